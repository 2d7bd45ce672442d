/**
 * The write mode in force for a service, read from the deployed flags through AppConfig Data
 * (the same reader as the gateway router's): the consistency check and full validation ask it
 * before a repair, which is refused once writes are cut over (`RepairAfterCutoverError`).
 */
import { AppConfigDataClient } from '@aws-sdk/client-appconfigdata';
import { functionEnv, RUNTIME_ENV } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { effectiveFlags, type WriteMode } from '../domain/flags.js';
import { AppConfigFlagSource } from './appconfig-data.js';

/** AppConfig did not answer: the write mode, and so whether a repair is safe, is unknown. */
export class WriteModeUnknownError extends Error {
  constructor(service: string, detail?: string) {
    super(
      `the write mode of ${service} could not be read from AppConfig${detail ? ` (${detail})` : ''}; repair needs it and is not run`,
    );
    this.name = 'WriteModeUnknownError';
  }
}

/**
 * `(service) => its deployed write mode`, when the function has the flag profile's ids
 * (`CUTOVER_APPCONFIG_*`); otherwise undefined (local runs and tests have no AppConfig).
 */
export function writeModeFromEnv(
  spec: MigrationSpec,
  env: NodeJS.ProcessEnv = functionEnv(),
  client: AppConfigDataClient = new AppConfigDataClient({ maxAttempts: 2 }),
): ((service: string) => Promise<WriteMode>) | undefined {
  const applicationId = env[RUNTIME_ENV.appConfigApplicationId];
  const environmentId = env[RUNTIME_ENV.appConfigEnvironmentId];
  const profileId = env[RUNTIME_ENV.appConfigProfileId];
  if (!applicationId || !environmentId || !profileId) return undefined;
  const source = new AppConfigFlagSource({
    client,
    applicationId,
    environmentId,
    profileId,
    services: spec.services.map((s) => s.name),
    pollIntervalSeconds: 5,
    refreshTimeoutMs: 5_000,
    callTimeoutMs: 3_000,
  });
  return async (service) => {
    await source.refresh();
    const snapshot = source.snapshot();
    const flags = snapshot.flags[service];
    if (snapshot.fetchedAt === undefined || !flags)
      throw new WriteModeUnknownError(service, snapshot.lastError);
    return effectiveFlags(flags).writeMode;
  };
}
