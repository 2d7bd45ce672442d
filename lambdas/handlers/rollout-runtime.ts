/**
 * What every rollout task Lambda shares: one Logger and one Metrics instance, the middy
 * wrapper, and the adapters built once per execution environment from `RUNTIME_ENV`.
 * The use cases themselves live in `lambdas/domain/rollout-tasks.ts`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { METRICS_NAMESPACE } from '../../lib/spec/metrics.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { migrations } from '../../migrations/index.js';
import { appConfigPortFromEnv } from '../adapters/appconfig.js';
import { writeModeFromEnv } from '../adapters/appconfig-write-mode.js';
import { S3ObjectStore } from '../adapters/s3-objects.js';
import type { FlagDeploymentPort } from '../domain/flags.js';
import type { BackfillPort, ConsistencyCheckPort } from '../domain/rollout.js';
import { SyncEngineBackfill, SyncEngineConsistencyCheck } from '../domain/rollout-sync.js';
import { RolloutError } from '../domain/rollout-tasks.js';
import { SyncEngineValidation, type ValidationPort } from '../domain/validation.js';
import { runtime } from './runtime.js';

export const logger = new Logger();
export const metrics = new Metrics({
  namespace: process.env[RUNTIME_ENV.metricsNamespace] ?? METRICS_NAMESPACE,
});

export function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

/** The bundled spec named by `CUTOVER_MIGRATION`. */
export function migrationFromEnv(): MigrationSpec {
  const name = requiredEnv(RUNTIME_ENV.migration);
  const spec = migrations.find((m) => m.name === name);
  if (!spec) throw new Error(`no bundled migration "${name}"`);
  return spec;
}

/**
 * A task Lambda: the state machine's input in, the use case's result out. A {@link RolloutError}
 * is an expected outcome (a failed gate) and is logged as a warning; the state machine catches
 * it by name and rolls back.
 */
export function taskHandler<I, O>(task: string, run: (input: I) => Promise<O>) {
  return middy(async (event: I): Promise<O> => {
    logger.appendKeys({ task });
    try {
      return await run(event);
    } catch (error) {
      if (error instanceof RolloutError) logger.warn('rollout task failed', { error });
      else logger.error('rollout task errored', { error });
      throw error;
    }
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}

export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- ports built from the environment, once per execution environment ---------------------------

let flagPort: FlagDeploymentPort | undefined;
/** AppConfig hosted versions and deployments of the migration's flag profile. */
export function flagDeploymentsFromEnv(): FlagDeploymentPort {
  flagPort ??= createFlagDeployments();
  return flagPort;
}

let consistencyPort: Promise<ConsistencyCheckPort> | undefined;
/** The sync engine's consistency check over the legacy database and the service tables. */
export function consistencyFromEnv(): Promise<ConsistencyCheckPort> {
  consistencyPort ??= syncPortsFromEnv().then((p) => p.consistency);
  return consistencyPort;
}

let backfillPort: Promise<BackfillPort> | undefined;
/** The sync engine's backfill (chunks copied through the forward-sync rules). */
export function backfillFromEnv(): Promise<BackfillPort> {
  backfillPort ??= syncPortsFromEnv().then((p) => p.backfill);
  return backfillPort;
}

function createFlagDeployments(): FlagDeploymentPort {
  return appConfigPortFromEnv();
}

/** The sync engine's runtime (legacy store, service tables, sync state) of this container. */
async function syncPortsFromEnv(): Promise<{ consistency: ConsistencyCheckPort; backfill: BackfillPort }> {
  const rt = await runtime();
  return { consistency: new SyncEngineConsistencyCheck(rt), backfill: new SyncEngineBackfill(rt) };
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
