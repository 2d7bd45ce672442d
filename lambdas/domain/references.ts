/**
 * References between entities (spec: a field's `references`, an entity's `legacy.keyReferences`)
 * and the rules for creating a record on the legacy side (`create`).
 *
 * A reference holds the key of another entity's record, and the two sides name that record
 * differently: the service by its service key, Magento by its `entity_id`. The conflict engine
 * and the sync state see references as service keys (one representation, so a value means the
 * same on both sides); the sync translates at the legacy boundary, through the referenced
 * entity's key map:
 *
 * - forward (legacy -> service): a legacy key becomes the service key mapped to it, or stays as
 *   it is (a record born in Magento keeps its Magento key in the service);
 * - reverse (service -> legacy): a service key becomes the legacy key mapped to it, or stays as it
 *   is when it names a record the legacy side already has; otherwise the referenced record has not
 *   reached the legacy side yet, and the change waits (`ReferenceNotReadyError`, retried by
 *   redelivery) instead of writing a dangling key.
 */

import { entityByName } from '../../lib/spec/lookup.js';
import type { EntitySpec, FieldSpec, MigrationSpec } from '../../lib/spec/schema.js';
import type { FieldValue } from './events.js';
import type { Row } from './ports.js';
import { normalizeValue } from './values.js';

/**
 * A referenced record has not reached the legacy side yet: retry later (SQS redelivery). Not a
 * bad record: the change is applied once the referenced record has been created there.
 */
export class ReferenceNotReadyError extends Error {
  constructor(
    readonly entity: string,
    readonly key: string,
    readonly referenced: { readonly entity: string; readonly key: string },
    via: string,
  ) {
    super(
      `${entity} ${key}: waiting for ${referenced.entity} ${referenced.key} (${via}) to reach the legacy side; retried on redelivery`,
    );
    this.name = 'ReferenceNotReadyError';
  }
}

/**
 * The spec's create rules refuse to create this service-born record on the legacy side. Retrying
 * does not help: the record needs a change (or a person).
 */
export class CreateRefusedError extends Error {
  constructor(entity: string, key: string, detail: string, reason: string) {
    super(`${entity} ${key}: cannot be created on the legacy side: ${detail} (${reason})`);
    this.name = 'CreateRefusedError';
  }
}

/** Resolves a referenced record's service key to its legacy key (throws when it has none yet). */
export type LegacyKeyResolver = (referenced: EntitySpec, serviceKey: string, via: string) => Promise<string>;
/** The service key mapped to a referenced record's legacy key, if any. */
export type ServiceKeyLookup = (referenced: EntitySpec, legacyKey: string) => Promise<string | undefined>;

function referenceFields(spec: MigrationSpec, entity: EntitySpec) {
  return entity.fields.flatMap((f) =>
    f.references ? [{ field: f, referenced: entityByName(spec, f.references.entity).entity }] : [],
  );
}

/** `data` with each non-null reference field replaced by `translate` of its key. */
async function translateReferences(
  spec: MigrationSpec,
  entity: EntitySpec,
  data: Row,
  translate: (field: FieldSpec, referenced: EntitySpec, key: string) => Promise<FieldValue>,
): Promise<Row> {
  const refs = referenceFields(spec, entity).filter(
    ({ field }) => data[field.name] !== undefined && data[field.name] !== null,
  );
  if (!refs.length) return data;
  const out: Record<string, FieldValue> = { ...data };
  await Promise.all(
    refs.map(async ({ field, referenced }) => {
      out[field.name] = await translate(field, referenced, String(data[field.name]));
    }),
  );
  return out;
}

/** `data` with its reference fields as legacy keys turned into service keys (forward sync). */
export function referencesToService(
  spec: MigrationSpec,
  entity: EntitySpec,
  data: Row,
  serviceKeyOf: ServiceKeyLookup,
): Promise<Row> {
  return translateReferences(spec, entity, data, async (field, referenced, legacyKey) =>
    normalizeValue(field, (await serviceKeyOf(referenced, legacyKey)) ?? legacyKey),
  );
}

/** `data` with its reference fields as service keys turned into legacy keys (reverse sync). */
export function referencesToLegacy(
  spec: MigrationSpec,
  entity: EntitySpec,
  data: Row,
  legacyKeyOf: LegacyKeyResolver,
): Promise<Row> {
  return translateReferences(spec, entity, data, (field, referenced, serviceKey) =>
    legacyKeyOf(referenced, serviceKey, field.name),
  );
}

/**
 * Checks the spec's create rules for a record about to be created on the legacy side with
 * `values` (the agreed values overlaid with the change).
 * @throws CreateRefusedError naming what is missing, with the spec's reason
 */
export function assertLegacyCreate(entity: EntitySpec, key: string, values: Row): void {
  const rules = entity.create;
  if (!rules) return;
  if (!rules.legacy) {
    throw new CreateRefusedError(entity.name, key, 'the spec allows no creates there', rules.reason);
  }
  const missing = rules.legacyRequires.filter((f) => values[f] === undefined || values[f] === null);
  if (missing.length) {
    throw new CreateRefusedError(entity.name, key, `missing ${missing.join(', ')}`, rules.reason);
  }
}
