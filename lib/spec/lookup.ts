/**
 * Lookups in a validated migration spec, without zod: the functions import these (their bundles
 * carry the spec as JSON, validated at synthesis by `schema.ts`, which re-exports them).
 */
import type {
  ConflictPolicy,
  EntitySpec,
  FieldSpec,
  MigrationSpec,
  ServiceSpec,
  SyncSettings,
} from './schema.js';

/** One bad field of a spec: where (by name, see {@link formatPath}) and what is wrong. */
export interface SpecIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A spec that failed validation. `issues` lists every bad field with its path; the message is
 * what `cdk synth` and `npm start` print (without a stack trace, see bin/app.ts).
 */
export class SpecError extends Error {
  readonly issues: readonly SpecIssue[];
  readonly specName: string;
  constructor(specName: string, issues: readonly SpecIssue[]) {
    super(
      `Invalid migration spec "${specName}" (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}):\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'),
    );
    this.name = 'SpecError';
    this.specName = specName;
    this.issues = issues;
  }
}

/**
 * Longest time (seconds) from a committed legacy change to the poll that reads it: the overlap,
 * the second the poller waits for to be over (Magento's `updated_at` has whole seconds), and one
 * poll interval. Delivery and apply come on top (sub-second; see BENCHMARKS.md, section lag).
 */
export function pollerLagBoundSeconds(sync: SyncSettings): number {
  return sync.pollerOverlapSeconds + 1 + sync.pollerIntervalSeconds;
}

/**
 * The service named `name`, or undefined when the spec has none: the one search of a spec's
 * services by name (generic, so that a part of a spec, e.g. the archive's, is searched the same).
 */
export function serviceByName<S extends { readonly name: string }>(
  spec: { readonly services: readonly S[] },
  name: string,
): S | undefined {
  return spec.services.find((s) => s.name === name);
}

/**
 * The entity named `entity` and its service, or undefined when the spec has none (e.g. a parked
 * conflict of an entity since removed). The one search of a spec's entities by name.
 */
export function findEntity(
  spec: MigrationSpec,
  entity: string,
): { service: ServiceSpec; entity: EntitySpec } | undefined {
  for (const service of spec.services) {
    const found = service.entities.find((e) => e.name === entity);
    if (found) return { service, entity: found };
  }
  return undefined;
}

/**
 * Spec lookups shared by the stacks, the handlers and the tests.
 * @throws SpecError when the spec has no entity named `entity`
 */
export function entityByName(
  spec: MigrationSpec,
  entity: string,
): { service: ServiceSpec; entity: EntitySpec } {
  const found = findEntity(spec, entity);
  if (found) return found;
  throw new SpecError(spec.name, [{ path: 'services.*.entities', message: `no entity named "${entity}"` }]);
}

/** Whether any entity of the spec has a personal field (`pii: true`; then a cipher is required). */
export function hasPersonalData(spec: MigrationSpec): boolean {
  return spec.services.some((s) => s.entities.some((e) => e.fields.some((f) => f.pii)));
}

/**
 * The entity whose key map holds this entity's keys: the one its legacy key references
 * (`legacy.keyReferences`), else the entity itself.
 */
export function keyMapEntity(spec: MigrationSpec, entity: EntitySpec): EntitySpec {
  const ref = 'table' in entity.legacy ? entity.legacy.keyReferences : undefined;
  return ref === undefined ? entity : entityByName(spec, ref).entity;
}

/** Whether the entity's key or any of its fields references another entity's records. */
export function hasReferences(entity: EntitySpec): boolean {
  return (
    ('table' in entity.legacy && entity.legacy.keyReferences !== undefined) ||
    entity.fields.some((f) => f.references !== undefined)
  );
}

/** The policy that governs one field. */
export function fieldPolicy(entity: EntitySpec, field: FieldSpec): ConflictPolicy {
  return field.policy ?? entity.policy;
}

/** The service domain events (detail types) that carry an entity's changes. */
export function serviceEventsOf(entity: EntitySpec): string[] {
  return entity.serviceEvents ?? [`${entity.name}.updated`];
}

/** The legacy change event (detail type) of an entity. */
export function legacyEventOf(entity: EntitySpec): string {
  return `migration.${entity.name}.changed`;
}
