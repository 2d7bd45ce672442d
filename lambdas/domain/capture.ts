/**
 * Service-side change capture: a DynamoDB stream record of a service table -> a contract event
 * (the EventBridge Pipe's enrichment step), so that a committed service write always reaches
 * the legacy side.
 *
 * - Only the fields that changed travel (Old vs New image); counters (`sum`) as deltas
 *   (new - old), never as absolute values.
 * - `sequence` is the item version; the eventId is deterministic: `ddb:<table>:<key>:<version>`
 *   (a stream record delivered twice is the same event).
 * - Writes made by the sync itself are dropped (echo suppression): the sync sets
 *   `_writer = 'cutover-sync'` and `_syncedVersion` to the version it writes, so an image whose
 *   version equals its `_syncedVersion` is exactly a sync write. A later service write bumps the
 *   version and no longer matches.
 * - The service-side contract: every service write bumps `version` (the forward sync's
 *   compare-and-set and this echo check both rely on it). A write that does not (OLD and NEW
 *   image with the same version, or no version at all) would look like the sync's echo and be
 *   lost; it is recognised by comparing the two images' versions (the sync always bumps), never
 *   dropped, published with an id of its own, and reported (`versionViolation`) so the handler
 *   counts it and the alarm fires.
 * - REMOVE becomes op `delete`.
 */

import { fieldPolicy, serviceEventsOf } from '../../lib/spec/lookup.js';
import type { EntitySpec } from '../../lib/spec/schema.js';
import { SYNC_WRITER_ATTRIBUTE, SYNC_WRITER_VALUE, SYNCED_VERSION_ATTRIBUTE } from '../../lib/spec/tables.js';
import { recordHash, rowHashHex } from './checksum.js';
import { type ChangeEvent, type FieldValue, parseChangeEvent, serviceDetailType } from './events.js';
import { normalizeValue, sameValue } from './values.js';

/** A stream record with its images already unmarshalled to plain values. */
export interface ServiceStreamRecord {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly tableName: string;
  readonly keys: Readonly<Record<string, unknown>>;
  readonly newImage?: Readonly<Record<string, unknown>>;
  readonly oldImage?: Readonly<Record<string, unknown>>;
  /** ApproximateCreationDateTime (ms). */
  readonly approximateAt: number;
}

/** What the pipe puts on the bus: its target maps these to DetailType, Source and Detail. */
export interface CapturedEvent {
  readonly 'detail-type': string;
  readonly source: string;
  readonly detail: ChangeEvent;
}

/** Whether an image is exactly a write made by the sync. */
export function isSyncWrite(
  entity: EntitySpec,
  image: Readonly<Record<string, unknown>> | undefined,
): boolean {
  if (!image) return false;
  const version = image[entity.target.versionAttribute];
  return (
    image[SYNC_WRITER_ATTRIBUTE] === SYNC_WRITER_VALUE &&
    version !== undefined &&
    Number(image[SYNCED_VERSION_ATTRIBUTE]) === Number(version)
  );
}

/**
 * How a service write broke the contract "every write bumps the version":
 * `version-not-bumped` (a MODIFY whose NEW version is not above the OLD one) or
 * `version-missing` (an image without a numeric version).
 */
export type VersionViolation = 'version-not-bumped' | 'version-missing';

/**
 * Whether an INSERT or MODIFY record breaks the version contract. The sync's own writes never do
 * (they always bump by one), so a record that does is a service write, whatever `_writer` says.
 */
export function versionViolation(
  entity: EntitySpec,
  record: ServiceStreamRecord,
): VersionViolation | undefined {
  if (record.eventName === 'REMOVE') return undefined;
  const attr = entity.target.versionAttribute;
  const version = Number(record.newImage?.[attr]);
  if (record.newImage?.[attr] === undefined || !Number.isFinite(version)) return 'version-missing';
  const old = record.eventName === 'MODIFY' ? record.oldImage?.[attr] : undefined;
  if (old !== undefined && version <= Number(old)) return 'version-not-bumped';
  return undefined;
}

/** The detail type of an entity's service events (`<entity>.updated` when it has one). */
export function serviceDetailTypeOf(entity: EntitySpec): string {
  const events = serviceEventsOf(entity);
  const updated = serviceDetailType(entity.name);
  return events.includes(updated) ? updated : events[0]!;
}

function canonical(entity: EntitySpec, name: string, raw: unknown): FieldValue {
  const f = entity.fields.find((x) => x.name === name)!;
  return normalizeValue({ ...f, nullable: true }, raw);
}

/** A decimal as the service holds it (its own text), or `canonical` when that loses nothing. */
function decimalAsHeld(raw: unknown, canonical: FieldValue): FieldValue {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
  if (text === undefined || /e/i.test(text)) return canonical;
  const digits = (t: string) => (/\.(\d*)$/.exec(t)?.[1] ?? '').replace(/0+$/, '').length;
  return digits(text) > digits(String(canonical)) ? text : canonical;
}

/**
 * Translates one stream record. Returns null for a record to drop (a sync write, or nothing
 * mapped changed).
 * @throws ContractError / ValueError for an item the entity cannot describe
 */
export function captureServiceChange(entity: EntitySpec, record: ServiceStreamRecord): ChangeEvent | null {
  const keyRaw = record.keys[entity.target.key];
  if (keyRaw === undefined || keyRaw === null) throw new Error(`stream record without ${entity.target.key}`);
  const key = String(keyRaw);
  const versionAttr = entity.target.versionAttribute;
  if (record.eventName === 'REMOVE') {
    const version = Number(record.oldImage?.[versionAttr] ?? 0) + 1;
    return parseChangeEvent({
      schemaVersion: 1,
      eventId: `ddb:${record.tableName}:${key}:${version}:delete`,
      entity: entity.name,
      key,
      op: 'delete',
      changedAt: new Date(record.approximateAt).toISOString(),
      origin: 'service',
      data: {},
      sequence: version,
    });
  }
  const img = record.newImage ?? {};
  const violation = versionViolation(entity, record);
  if (!violation && isSyncWrite(entity, img)) return null;
  const old = record.eventName === 'INSERT' ? undefined : record.oldImage;
  const data: Record<string, FieldValue> = {};
  const deltas: Record<string, number> = {};
  for (const f of entity.fields) {
    const isCounter = fieldPolicy(entity, f) === 'sum';
    if (!(f.name in img) && !(old && f.name in old)) continue;
    const now = canonical(entity, f.name, img[f.name]);
    // Compared in canonical form; carried as the service holds it where rounding would change it:
    // a decimal with more digits than the field's scale is left for the reverse sync to find
    // against the column (`unstorableReason`), not rounded away here.
    const sent = f.type === 'decimal' && now !== null ? decimalAsHeld(img[f.name], now) : now;
    if (!old) {
      if (now !== null || f.name in img) data[f.name] = sent;
      continue;
    }
    const before = canonical(entity, f.name, old[f.name]);
    if (isCounter) {
      const d = Number(now ?? 0) - Number(before ?? 0);
      if (d !== 0) deltas[f.name] = d;
    } else if (!sameValue(now, before)) {
      data[f.name] = sent;
    }
  }
  if (!Object.keys(data).length && !Object.keys(deltas).length) return null;
  const version = Number.isFinite(Number(img[versionAttr])) ? Number(img[versionAttr] ?? 0) : 0;
  const updatedAt = img[entity.target.updatedAtAttribute];
  let at =
    typeof updatedAt === 'string' && !Number.isNaN(Date.parse(updatedAt))
      ? Date.parse(updatedAt)
      : record.approximateAt;
  let eventId = `ddb:${record.tableName}:${key}:${version}`;
  if (violation) {
    // The version (and perhaps updatedAt) is the previous write's: without an id and a time of
    // its own this change would be a duplicate or a stale repeat of that write downstream.
    const values = Object.fromEntries(
      entity.fields.map((f) => [f.name, canonical(entity, f.name, img[f.name])]),
    );
    eventId += `:${violation}:${rowHashHex(recordHash(entity, key, values))}`;
    at = Math.max(at, record.approximateAt);
  }
  const changedAt = new Date(at).toISOString();
  return parseChangeEvent({
    schemaVersion: 1,
    eventId,
    entity: entity.name,
    key,
    op: 'upsert',
    changedAt,
    origin: 'service',
    data,
    ...(Object.keys(deltas).length ? { deltas } : {}),
    sequence: version,
  });
}
