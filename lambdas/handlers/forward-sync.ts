/**
 * Forward sync: legacy changes (`migration.<entity>.changed`, SQS with DLQ) -> conflict engine ->
 * the service tables (DynamoDB), with push-back events and parked conflicts where the engine
 * says so. It never reads the legacy side: no legacy adapter, no database secret.
 */
import { applyToService } from '../domain/sync.js';
import { applyBatchToService } from '../domain/sync-batch.js';
import { serviceRuntime } from './service-runtime.js';
import { syncHandler } from './sync-handler.js';

export const handler = syncHandler({
  name: 'forward',
  runtime: () => serviceRuntime(),
  apply: applyToService,
  applyBatch: applyBatchToService,
});
