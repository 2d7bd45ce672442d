/**
 * `cutover conflicts list|show|resolve`: the parked conflicts of a migration, on the sync's own
 * resolution use case (lambdas/domain/conflict-resolution.ts: no second write path). Values of
 * personal fields (`pii: true` in the spec) are withheld unless `--reveal`, and every value
 * shown passes through the one masking function (lambdas/domain/masking.ts) otherwise.
 */
import {
  ConflictNotFoundError,
  ConflictResolutionError,
  getConflict,
  listOpenConflicts,
  resolveConflict,
} from '../../lambdas/domain/conflict-resolution.js';
import type { FieldValue } from '../../lambdas/domain/events.js';
import { maskPii } from '../../lambdas/domain/masking.js';
import type { ConflictChoice, ConflictStore, StoredConflict } from '../../lambdas/domain/ports.js';
import type { SyncDeps } from '../../lambdas/domain/sync.js';
import { findEntity } from '../spec/lookup.js';
import type { MigrationSpec } from '../spec/schema.js';
import { CliError, EXIT } from './errors.js';

/** What a person sees of a conflict. */
export interface ConflictView {
  readonly conflictId: string;
  readonly entity: string;
  readonly key: string;
  readonly field: string;
  readonly status: StoredConflict['status'];
  readonly parkedAt: string;
  readonly legacy: string;
  readonly service: string;
  readonly reason?: string;
  readonly resolution?: {
    readonly choice: ConflictChoice;
    readonly value: string;
    readonly by: string;
    readonly at: string;
  };
  readonly resolvedAt?: string;
  /** The field is personal data: values withheld unless revealed. */
  readonly personal: boolean;
}

const WITHHELD = '(personal data: --reveal to show)';

function isPersonal(spec: MigrationSpec, entity: string, field: string): boolean {
  return findEntity(spec, entity)?.entity.fields.find((f) => f.name === field)?.pii ?? false;
}

/** A conflict as shown: personal values withheld, other values masked, unless `reveal`. */
export function conflictView(spec: MigrationSpec, c: StoredConflict, reveal: boolean): ConflictView {
  const personal = isPersonal(spec, c.entity, c.field);
  const show = (v: FieldValue): string => {
    const text = JSON.stringify(v);
    if (reveal) return text;
    return personal ? WITHHELD : maskPii(text);
  };
  return {
    conflictId: c.conflictId,
    entity: c.entity,
    key: c.key,
    field: c.field,
    status: c.status,
    parkedAt: c.parkedAt,
    legacy: show(c.legacy.value),
    service: show(c.service.value),
    ...(c.reason ? { reason: reveal ? c.reason : personal ? WITHHELD : maskPii(c.reason) } : {}),
    ...(c.resolution
      ? {
          resolution: {
            choice: c.resolution.choice,
            value: show(c.resolution.value),
            by: c.resolution.by,
            at: c.resolution.at,
          },
        }
      : {}),
    ...(c.resolvedAt ? { resolvedAt: c.resolvedAt } : {}),
    personal,
  };
}

/** Open conflicts (all pages, up to `limit`), optionally of one entity. */
export async function listConflicts(
  conflicts: ConflictStore,
  spec: MigrationSpec,
  options: { readonly entity?: string; readonly limit: number; readonly reveal: boolean },
): Promise<ConflictView[]> {
  const out: ConflictView[] = [];
  let cursor: string | undefined;
  do {
    const page = await listOpenConflicts(
      { conflicts },
      {
        ...(options.entity ? { entity: options.entity } : {}),
        limit: Math.min(100, options.limit - out.length),
        ...(cursor ? { cursor } : {}),
      },
    );
    out.push(...page.items.map((c) => conflictView(spec, c, options.reveal)));
    cursor = page.cursor;
  } while (cursor && out.length < options.limit);
  return out;
}

export async function showConflict(
  conflicts: ConflictStore,
  spec: MigrationSpec,
  id: string,
  reveal: boolean,
): Promise<ConflictView> {
  try {
    return conflictView(spec, await getConflict({ conflicts }, id), reveal);
  } catch (e) {
    if (e instanceof ConflictNotFoundError) throw new CliError(e.message, EXIT.failed);
    throw e;
  }
}

/** `--keep legacy|service|value=<v>` as the use case's choice; `<v>` is JSON when it parses, else text. */
export function parseKeep(keep: string): { choice: ConflictChoice; value?: FieldValue } {
  if (keep === 'legacy' || keep === 'service') return { choice: keep };
  const m = /^value=(.*)$/s.exec(keep);
  if (!m) throw new CliError(`--keep ${keep}: one of legacy, service, value=<value>`);
  let value: FieldValue;
  try {
    value = JSON.parse(m[1]!) as FieldValue;
  } catch {
    value = m[1]!;
  }
  return { choice: 'value', value };
}

/** Resolves a conflict on both sides through the sync engine. */
export async function resolve(
  deps: SyncDeps,
  id: string,
  keep: string,
  by: string,
  reveal: boolean,
): Promise<{ outcome: 'resolved' | 'already-resolved'; conflict: ConflictView }> {
  const { choice, value } = parseKeep(keep);
  try {
    const r = await resolveConflict(deps, {
      conflictId: id,
      choice,
      ...(value !== undefined ? { value } : {}),
      by,
    });
    return { outcome: r.outcome, conflict: conflictView(deps.spec, r.conflict, reveal) };
  } catch (e) {
    if (e instanceof ConflictNotFoundError || e instanceof ConflictResolutionError) {
      // The use case's messages name the field and the values' sides, not the values.
      throw new CliError(maskPii(e.message), EXIT.failed);
    }
    throw e;
  }
}
