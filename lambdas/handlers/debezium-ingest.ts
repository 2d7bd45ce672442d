/**
 * Debezium change events (as Debezium Server's SQS sink delivers them: the SQS body is the change
 * event value's JSON, with or without the `{ schema, payload }` wrapper) -> contract events on the
 * bus (`migration.<entity>.changed`). EAV value-table changes become product changes; EAV
 * attribute ids are resolved from `eav_attribute` (cached). A tombstone (the empty body the sink
 * sends for a delete's null value) is skipped and counted; a malformed event fails alone.
 */
import type { SQSRecord } from 'aws-lambda';
import { entityByName } from '../../lib/spec/lookup.js';
import type { MysqlEntityLegacy } from '../../lib/spec/schema.js';
import { DebeziumMapping, readDebeziumBody, translateDebezium } from '../domain/debezium.js';
import { toBusEntry } from '../domain/events.js';
import { countEvent, countTombstone } from './powertools.js';
import { type Runtime, runtime } from './runtime.js';
import { sqsBatchHandler } from './sqs-batch.js';

let mapping: { rt: Runtime; mapping: DebeziumMapping } | undefined;

async function mappingFor(rt: Runtime): Promise<DebeziumMapping> {
  if (mapping?.rt === rt) return mapping.mapping;
  const codes = new Map<number, string>();
  const eav = rt.legacyEav; // given by the composition root where the legacy store has EAV (MySQL)
  if (eav) {
    for (const s of rt.spec.services) {
      for (const e of s.entities) {
        if ((e.legacy as MysqlEntityLegacy).eavEntityType) {
          for (const [id, code] of await eav.attributeCodes(e)) codes.set(id, code);
        }
      }
    }
  }
  const m = new DebeziumMapping(rt.spec, (id) => codes.get(id));
  mapping = { rt, mapping: m };
  return m;
}

export const handler = sqsBatchHandler('debezium-ingest', async (record: SQSRecord) => {
  let body: ReturnType<typeof readDebeziumBody>;
  try {
    body = readDebeziumBody(record.body);
  } catch (e) {
    countEvent('unknown', 'capture', 'failed');
    throw e;
  }
  if (body.tombstone) {
    countTombstone();
    return;
  }
  const rt = await runtime();
  try {
    const event = translateDebezium(body.value, await mappingFor(rt));
    if (!event) return; // a table or row this migration does not map
    await rt.publisher.publish([toBusEntry(event)]);
    const service = entityByName(rt.spec, event.entity).service.name;
    countEvent(service, 'capture', 'applied');
  } catch (e) {
    countEvent('unknown', 'capture', 'failed');
    throw e;
  }
});
