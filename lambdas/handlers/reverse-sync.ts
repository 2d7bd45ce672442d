/**
 * Reverse sync: service changes (`<entity>.updated`, … from the change-capture pipe, SQS with
 * DLQ, capped concurrency) -> conflict engine -> the Magento database. A record created on the
 * service side gets a Magento key on its first sync; the key map makes the create happen once.
 */
import { applyToLegacy } from '../domain/sync.js';
import { applyBatchToLegacy, applyEach } from '../domain/sync-batch.js';
import { runtime, withLegacyBatch } from './runtime.js';
import { syncHandler } from './sync-handler.js';

export const handler = syncHandler({
  name: 'reverse',
  runtime: () => runtime(),
  apply: applyToLegacy,
  // Set-based writes where the legacy store has them (MySQL); one by one otherwise (a REST API).
  applyBatch: (deps, entity, events) =>
    deps.legacyBatch
      ? applyBatchToLegacy(withLegacyBatch(deps), entity, events)
      : applyEach(deps, entity, events, applyToLegacy),
});
