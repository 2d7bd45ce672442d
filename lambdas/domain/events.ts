/**
 * The event contract on the platform bus (DESIGN.md, "Events on the platform bus").
 *
 * Legacy changes travel as `migration.<entity>.changed`; service domain events as
 * `<entity>.updated` (or the entity's own names such as `order.placed`, `coupon.used`).
 * The EventBridge `source` is `cutover.legacy` or `cutover.service`.
 */

export const EVENT_SOURCE = { legacy: 'cutover.legacy', service: 'cutover.service' } as const;
export const CONTRACT_SCHEMA_VERSION = 1;

/** Which side a change comes from. */
export type Origin = 'legacy' | 'service';
const ORIGINS: readonly Origin[] = ['legacy', 'service'];

/** A scalar field value as carried in `data`. Decimals travel as strings to keep their scale. */
export type FieldValue = string | number | boolean | null;

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Milliseconds since the epoch of an ISO-8601 timestamp with a zone, or undefined when it is not
 * one or names a time that does not exist. Strict where `Date.parse` is lenient: `Date.parse`
 * rolls `2026-02-30` over to March 2 and accepts hour 24; here every component must be in range
 * and the calendar date must round-trip (the day exists in that month of that year).
 */
export function parseIsoTimestamp(s: string): number | undefined {
  const m = ISO_TIMESTAMP.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (year < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps the years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const offset = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
}

const ISO_MESSAGE = 'must be an ISO-8601 timestamp with a zone, e.g. 2026-11-22T10:00:00.123Z';

/** A change on the bus (`detail` of `migration.<entity>.changed` and the service events). */
export interface ChangeEvent {
  readonly schemaVersion: typeof CONTRACT_SCHEMA_VERSION;
  readonly eventId: string;
  readonly entity: string;
  readonly key: string;
  readonly op: 'upsert' | 'delete';
  /** ISO-8601 with a zone. */
  readonly changedAt: string;
  readonly origin: Origin;
  readonly data: Readonly<Record<string, FieldValue>>;
  /** Counter deltas (the `sum` policy): applied exactly once per eventId. */
  readonly deltas?: Readonly<Record<string, number>>;
  /**
   * Orders two changes of the same origin with the same `changedAt` (Magento timestamps have
   * one-second precision): the service's item version, the poller's observation time, or
   * Debezium's source position. Extension of DESIGN.md's contract; optional.
   */
  readonly sequence?: number;
  /** Set on events that a sync emitted to resolve a conflict (push-back), for tracing. */
  readonly causedBy?: string;
}

/** A change event as written by a producer: `data` may be left out (a delete, a delta). */
export type ChangeEventInput = Omit<ChangeEvent, 'data'> & { readonly data?: ChangeEvent['data'] };

/** The keys of a change event, in the order it is written (unknown keys are rejected). */
const CHANGE_EVENT_KEYS = [
  'schemaVersion',
  'eventId',
  'entity',
  'key',
  'op',
  'changedAt',
  'origin',
  'data',
  'deltas',
  'sequence',
  'causedBy',
] as const;

/**
 * Reasons a value is not what a contract field needs, by path. Hand-written instead of a schema
 * library: the sync functions parse every record with it, and a schema library was most of
 * their bundle (BENCHMARKS.md, section bundles).
 */
export class ContractChecker {
  readonly reasons: string[] = [];
  constructor(private readonly prefix: string) {}

  private at(path: string): string {
    return path ? `${this.prefix}${path}` : this.prefix.replace(/\.$/, '') || 'event';
  }

  fail(path: string, message: string): void {
    this.reasons.push(`${this.at(path)} ${message}`);
  }

  /** A plain object (not null, not an array), else a reason. */
  object(path: string, v: unknown, optional = false): Record<string, unknown> | undefined {
    if (v === undefined && optional) return undefined;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.fail(path, `expected object, received ${describe(v)}`);
      return undefined;
    }
    return v as Record<string, unknown>;
  }

  string(
    path: string,
    v: unknown,
    o: { optional?: boolean; min?: number; max?: number; pattern?: RegExp; message?: string } = {},
  ): string | undefined {
    if (v === undefined && o.optional) return undefined;
    if (typeof v !== 'string') {
      this.fail(path, `expected string, received ${describe(v)}`);
      return undefined;
    }
    if (o.min !== undefined && v.length < o.min)
      this.fail(path, o.min === 1 ? 'must not be empty' : `must have at least ${o.min} characters`);
    else if (o.max !== undefined && v.length > o.max)
      this.fail(path, `must have at most ${o.max} characters`);
    else if (o.pattern && !o.pattern.test(v)) this.fail(path, o.message ?? `must match ${o.pattern}`);
    else return v;
    return undefined;
  }

  /** A finite number; `integer`: a safe integer, `nonnegative`: at least 0. */
  number(
    path: string,
    v: unknown,
    o: { optional?: boolean; integer?: boolean; nonnegative?: boolean } = {},
  ): number | undefined {
    if (v === undefined && o.optional) return undefined;
    if (typeof v !== 'number') this.fail(path, `expected number, received ${describe(v)}`);
    else if (!Number.isFinite(v)) this.fail(path, 'must be finite');
    else if (o.integer && !Number.isSafeInteger(v)) this.fail(path, 'must be an integer');
    else if (o.nonnegative && v < 0) this.fail(path, 'must be at least 0');
    else return v;
    return undefined;
  }

  oneOf<T extends string>(path: string, v: unknown, values: readonly T[], message?: string): T | undefined {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    this.fail(path, message ?? `must be one of ${values.join(', ')}`);
    return undefined;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return v === undefined ? 'undefined' : typeof v;
}

function checkChangeEvent(v: unknown, c: ContractChecker): ChangeEvent | undefined {
  const o = c.object('', v);
  if (!o) return undefined;
  for (const k of Object.keys(o)) {
    if (!(CHANGE_EVENT_KEYS as readonly string[]).includes(k))
      c.fail(k, 'is not a contract field (unrecognized key)');
  }
  if (o.schemaVersion !== CONTRACT_SCHEMA_VERSION) c.fail('schemaVersion', 'must be 1');
  const eventId = c.string('eventId', o.eventId, { min: 1, max: 256 });
  const entity = c.string('entity', o.entity, {
    pattern: /^[a-z][a-z0-9_]*$/,
    message: 'must be a lower snake_case entity name',
  });
  const key = c.string('key', o.key, { min: 1, max: 256 });
  const op = c.oneOf('op', o.op, ['upsert', 'delete'] as const);
  const changedAt = c.string('changedAt', o.changedAt, { pattern: ISO_TIMESTAMP, message: ISO_MESSAGE });
  if (changedAt !== undefined && parseIsoTimestamp(changedAt) === undefined)
    c.fail('changedAt', 'is not a valid date');
  const origin = c.oneOf('origin', o.origin, ORIGINS);
  const data: Record<string, FieldValue> = {};
  for (const [f, value] of Object.entries(c.object('data', o.data, true) ?? {})) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') data[f] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) data[f] = value;
    else
      c.fail(
        `data.${f}`,
        `must be a string, a finite number, a boolean or null (received ${describe(value)})`,
      );
  }
  let deltas: Record<string, number> | undefined;
  const rawDeltas = c.object('deltas', o.deltas, true);
  if (rawDeltas) {
    deltas = {};
    for (const [f, value] of Object.entries(rawDeltas)) {
      const n = c.number(`deltas.${f}`, value);
      if (n !== undefined) deltas[f] = n;
    }
  }
  const sequence = c.number('sequence', o.sequence, { optional: true, integer: true, nonnegative: true });
  const causedBy = c.string('causedBy', o.causedBy, { optional: true, max: 256 });
  if (c.reasons.length) return undefined;
  if (op === 'upsert' && Object.keys(data).length === 0 && !deltas) {
    c.fail('data', 'an upsert must carry data or deltas');
    return undefined;
  }
  return {
    schemaVersion: CONTRACT_SCHEMA_VERSION,
    eventId: eventId!,
    entity: entity!,
    key: key!,
    op: op!,
    changedAt: changedAt!,
    origin: origin!,
    data,
    ...(deltas ? { deltas } : {}),
    ...(sequence !== undefined ? { sequence } : {}),
    ...(causedBy !== undefined ? { causedBy } : {}),
  };
}

/** Why an input was rejected, with the path of each bad field. */
export class ContractError extends Error {
  readonly reasons: readonly string[];
  constructor(reasons: readonly string[]) {
    super(`invalid event: ${reasons.join('; ')}`);
    this.name = 'ContractError';
    this.reasons = reasons;
  }
}

/** Validates a contract `detail`. @throws ContractError saying what is wrong */
export function parseChangeEvent(detail: unknown): ChangeEvent {
  const c = new ContractChecker('detail.');
  const event = checkChangeEvent(detail, c);
  if (!event) throw new ContractError(c.reasons);
  return event;
}

/** Legacy change detail type: `migration.<entity>.changed`. */
export function legacyDetailType(entity: string): string {
  return `migration.${entity}.changed`;
}

/** Default service detail type: `<entity>.updated`. */
export function serviceDetailType(entity: string): string {
  return `${entity}.updated`;
}

/**
 * Parses a full bus event (an SQS body as EventBridge delivers it) and checks that its
 * detail type agrees with the detail's origin and entity.
 * @throws ContractError
 */
export function parseBusEvent(body: unknown): { detailType: string; event: ChangeEvent } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      throw new ContractError(['body is not JSON']);
    }
  }
  // An EventBridge event as delivered to a rule target (the SQS body).
  const c = new ContractChecker('');
  const env = c.object('', value);
  const detailType = env && c.string('detail-type', env['detail-type'], { min: 1 });
  if (env) c.string('source', env.source, { min: 1 });
  if (c.reasons.length || !env || detailType === undefined) throw new ContractError(c.reasons);
  const event = parseChangeEvent(env.detail);
  if (event.origin === 'legacy' && detailType !== legacyDetailType(event.entity)) {
    throw new ContractError([
      `detail-type "${detailType}" does not match a legacy ${event.entity} change (expected ${legacyDetailType(event.entity)})`,
    ]);
  }
  if (event.origin === 'service' && !detailType.startsWith(`${event.entity}.`)) {
    throw new ContractError([`detail-type "${detailType}" is not a ${event.entity} service event`]);
  }
  return { detailType, event };
}

/** The EventBridge PutEvents entry for a contract event. */
export function toBusEntry(
  event: ChangeEvent,
  detailType = event.origin === 'legacy' ? legacyDetailType(event.entity) : serviceDetailType(event.entity),
): { Source: string; DetailType: string; Detail: string } {
  return { Source: EVENT_SOURCE[event.origin], DetailType: detailType, Detail: JSON.stringify(event) };
}
