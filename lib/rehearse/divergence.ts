/**
 * What the rehearsal says about each row that stayed different between Magento and the service:
 * the entity, both keys, the NAMES of the differing fields and what the sync state holds for them
 * (revision, per field the newest change seen from each side as stamps, which side was seen
 * last, which side still holds a losing value). Never a value: names and e-mails are personal
 * data, and the report is shared. Enough to tell, from a diverged run alone, whether the sync
 * never saw one side's change, saw it and judged it stale, or kept a loser it should have
 * overwritten.
 */
import type { SyncState } from '../../lambdas/domain/conflict.js';
import type { ConsistencyReport, MismatchKind } from '../../lambdas/domain/consistency.js';
import type { Origin } from '../../lambdas/domain/events.js';
import type { LegacyStore, ServiceStore, SyncStateStore } from '../../lambdas/domain/ports.js';
import { compareStamps, type Stamp, type StampOrder } from '../../lambdas/domain/stamp.js';
import { entityByName } from '../spec/lookup.js';
import type { MigrationSpec } from '../spec/schema.js';

/** One field's sync state, without its value. */
export interface DivergentFieldState {
  /** Per side, the newest change of this field the sync accounted for. */
  readonly seen: Readonly<Partial<Record<Origin, Stamp>>>;
  /** The side whose change is the newer of the two under the stamp order (tie-break included). */
  readonly seenLast?: Origin;
  /** Sides still holding a value that lost a conflict (to be overwritten by the winner). */
  readonly losing?: readonly Origin[];
  /** Whether the sync state holds an agreed value for the field at all. */
  readonly agreed: boolean;
}

/** A row that differs between the two sides at the end of a rehearsal. */
export interface DivergentRow {
  readonly entity: string;
  readonly legacyKey: string;
  readonly serviceKey?: string;
  readonly kind: MismatchKind;
  /** Names of the fields that differ (kind `different`). */
  readonly fields: readonly string[];
  /** The record's sync state; absent when none is stored. */
  readonly state?: {
    readonly revision: number;
    readonly bornOn?: Origin;
    readonly fields: Readonly<Record<string, DivergentFieldState>>;
  };
  /** Each side's own last change time (ms since the epoch) and the service item's version. */
  readonly sides?: {
    readonly legacyChangedAt?: number;
    readonly serviceChangedAt?: number;
    readonly serviceVersion?: number;
  };
}

/**
 * The sync state of a differing row reduced to stamps and names: for each field named (all of
 * the state's fields when none are), what each side was last seen at and which came last.
 */
export function describeSyncState(
  stored: { readonly state: SyncState; readonly revision: number },
  fields: readonly string[],
  order: StampOrder,
): NonNullable<DivergentRow['state']> {
  const names = fields.length ? fields : Object.keys(stored.state.fields);
  const out: Record<string, DivergentFieldState> = {};
  for (const name of names) {
    const f = stored.state.fields[name];
    if (!f) {
      out[name] = { seen: {}, agreed: false };
      continue;
    }
    const { legacy, service } = f.seen;
    const seenLast =
      legacy && service
        ? compareStamps(legacy, service, order) >= 0
          ? 'legacy'
          : 'service'
        : legacy
          ? 'legacy'
          : service
            ? 'service'
            : undefined;
    const losing = (Object.keys(f.lost ?? {}) as Origin[]).filter((o) => f.lost?.[o] !== undefined);
    out[name] = {
      seen: { ...f.seen },
      ...(seenLast ? { seenLast } : {}),
      ...(losing.length ? { losing } : {}),
      agreed: true,
    };
  }
  return {
    revision: stored.revision,
    ...(stored.state.bornOn ? { bornOn: stored.state.bornOn } : {}),
    fields: out,
  };
}

/** A stamp as `2026-11-30T21:04:05.123Z legacy#7` (time, side, sequence). */
export function stampText(s: Stamp | undefined): string {
  return s ? `${new Date(s.at).toISOString()} ${s.origin}#${s.seq}` : '–';
}

/** One differing row as a Markdown table row: entity, keys, kind, field names, sync state. */
export function divergentRowMarkdown(r: DivergentRow): string {
  const state = r.state
    ? [
        `rev ${r.state.revision}${r.state.bornOn ? `, born on ${r.state.bornOn}` : ''}`,
        ...Object.entries(r.state.fields).map(
          ([name, f]) =>
            `${name}: ${f.agreed ? '' : 'no state; '}legacy ${stampText(f.seen.legacy)}, service ${stampText(f.seen.service)}` +
            `${f.seenLast ? `, last ${f.seenLast}` : ''}${f.losing?.length ? `, losing on ${f.losing.join('+')}` : ''}`,
        ),
      ].join('; ')
    : 'no sync state';
  const at = (v: number | undefined) => (v === undefined ? '–' : new Date(v).toISOString());
  const sides = r.sides
    ? `legacy ${at(r.sides.legacyChangedAt)}, service ${at(r.sides.serviceChangedAt)} v${r.sides.serviceVersion ?? '–'}`
    : '';
  return `| ${r.entity} | ${r.legacyKey} | ${r.serviceKey ?? '–'} | ${r.kind} | ${r.fields.join(', ') || '–'} | ${state} | ${sides} |`;
}

/** What {@link divergentRows} reads: the sync engine's stores (the runtime's). */
export interface DivergenceDeps {
  readonly spec: MigrationSpec;
  readonly state: Pick<SyncStateStore, 'get'>;
  readonly legacy: Pick<LegacyStore, 'read'>;
  readonly service: Pick<ServiceStore, 'read'>;
}

/**
 * The differing rows a consistency check listed, each with its sync state and both sides' change
 * times. Reads one state and one record per side per row: only run on the rows listed (the
 * check caps them), never on the whole table.
 */
export async function divergentRows(
  deps: DivergenceDeps,
  reports: readonly ConsistencyReport[],
): Promise<DivergentRow[]> {
  const out: DivergentRow[] = [];
  for (const report of reports) {
    const { entity } = entityByName(deps.spec, report.entity);
    const order: StampOrder = {
      precisionMs: deps.spec.legacy.timestampPrecisionMs,
      tieBreak: entity.tieBreak,
    };
    for (const m of report.mismatches) {
      const fields = m.fields ?? [];
      const serviceKey = m.serviceKey ?? m.legacyKey;
      const stored = await deps.state.get(entity, serviceKey);
      const legacy = m.kind === 'missing-in-legacy' ? undefined : await deps.legacy.read(entity, m.legacyKey);
      const service =
        m.kind === 'missing-in-service' ? undefined : await deps.service.read(entity, serviceKey);
      out.push({
        entity: report.entity,
        legacyKey: m.legacyKey,
        ...(m.serviceKey !== undefined ? { serviceKey: m.serviceKey } : {}),
        kind: m.kind,
        fields,
        ...(stored.revision > 0 ? { state: describeSyncState(stored, fields, order) } : {}),
        sides: {
          ...(legacy?.changedAt !== undefined ? { legacyChangedAt: legacy.changedAt } : {}),
          ...(service?.changedAt !== undefined ? { serviceChangedAt: service.changedAt } : {}),
          ...(service?.version !== undefined ? { serviceVersion: service.version } : {}),
        },
      });
    }
  }
  return out;
}
