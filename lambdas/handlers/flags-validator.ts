/**
 * AppConfig Lambda validator of the flag profile: runs on every new hosted version before it
 * can be deployed. Beyond AppConfig's own FeatureFlags schema and attribute constraints, it
 * checks the document against the migration: exactly a read and a write flag per service, and
 * values within the flag model (lambdas/domain/flags.ts). Throwing rejects the version.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { FlagError, parseFeatureFlagsDocument, readFlagName, writeFlagName } from '../domain/flags.js';
import { specFromEnv } from './bundled-spec.js';

const logger = new Logger({ serviceName: 'cutover-flags-validator' });

export interface ValidatorEvent {
  readonly content?: string;
  readonly configurationVersion?: string;
}

/** @throws FlagError naming every problem */
export function validateFlagsContent(spec: MigrationSpec, base64: string): void {
  const doc = parseFeatureFlagsDocument(Buffer.from(base64, 'base64').toString('utf8'));
  const expected = new Set(spec.services.flatMap((s) => [readFlagName(s.name), writeFlagName(s.name)]));
  const problems = [
    ...[...expected].filter((f) => !(f in doc.flags)).map((f) => `flags.${f} is missing`),
    ...Object.keys(doc.flags)
      .filter((f) => !expected.has(f))
      .map((f) => `flags.${f} is not a flag of the ${spec.name} migration`),
  ];
  if (problems.length) throw new FlagError(problems);
}

export const handler = async (event: ValidatorEvent): Promise<void> => {
  const spec = specFromEnv();
  try {
    validateFlagsContent(spec, event.content ?? '');
  } catch (e) {
    logger.warn('flag version rejected', { version: event.configurationVersion, reason: String(e) });
    throw e;
  }
};
