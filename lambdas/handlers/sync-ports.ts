/**
 * The sync engine's ports for the rollout and validation tasks that read both sides (gate,
 * backfill, validation's plan, scan and compare), built once per execution environment on the
 * runtime with the legacy store (`runtime.ts`).
 */
import { RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import { writeModeFromEnv } from '../adapters/appconfig-write-mode.js';
import { S3ObjectStore } from '../adapters/s3-objects.js';
import type { BackfillPort, ConsistencyCheckPort } from '../domain/rollout.js';
import { SyncEngineBackfill, SyncEngineConsistencyCheck } from '../domain/rollout-sync.js';
import { SyncEngineValidation, type ValidationPort } from '../domain/validation.js';
import { runtime } from './runtime.js';

let consistencyPort: Promise<ConsistencyCheckPort> | undefined;
/** The sync engine's consistency check over the legacy database and the service tables. */
export function consistencyFromEnv(): Promise<ConsistencyCheckPort> {
  consistencyPort ??= runtime().then((rt) => new SyncEngineConsistencyCheck(rt));
  return consistencyPort;
}

let backfillPort: Promise<BackfillPort> | undefined;
/** The sync engine's backfill (chunks copied through the forward-sync rules). */
export function backfillFromEnv(): Promise<BackfillPort> {
  backfillPort ??= runtime().then((rt) => new SyncEngineBackfill(rt));
  return backfillPort;
}

let validationPort: Promise<ValidationPort> | undefined;
/** Full validation on the sync engine, its objects in the bucket `CUTOVER_VALIDATION_BUCKET`. */
export function validationFromEnv(): Promise<ValidationPort> {
  validationPort ??= runtime().then((rt) => {
    // Repair is refused once writes are cut over; the compare workers have the flag ids.
    const writeModeOf = writeModeFromEnv(rt.spec);
    return new SyncEngineValidation({
      ...rt,
      store: new S3ObjectStore(requiredEnv(RUNTIME_ENV.validationBucket)),
      ...(writeModeOf ? { writeModeOf } : {}),
    });
  });
  return validationPort;
}
