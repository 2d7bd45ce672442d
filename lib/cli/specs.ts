/**
 * Loads the bundled migration specs when a command needs them, so a spec error is reported as
 * its message (naming the migration and field) instead of a stack trace at start-up: the spec
 * modules validate themselves as they load.
 */
import { serviceByName } from '../spec/lookup.js';
import type { MigrationSpec, ServiceSpec } from '../spec/schema.js';
import { isConfigurationError } from './config-errors.js';
import { CliError, EXIT } from './errors.js';

/** The bundled specs; a spec or cdk.json error becomes a {@link CliError} (exit 2). */
export async function loadMigrations(): Promise<readonly MigrationSpec[]> {
  try {
    return (await import('../../migrations/index.js')).migrations;
  } catch (e) {
    if (isConfigurationError(e)) throw new CliError(e.message, EXIT.usage, { cause: e });
    throw e;
  }
}

/** One spec by name. @throws CliError naming the known ones */
export function findMigration(specs: readonly MigrationSpec[], name: string): MigrationSpec {
  const spec = specs.find((s) => s.name === name);
  if (!spec) {
    throw new CliError(`unknown migration "${name}": the specs are ${specs.map((s) => s.name).join(', ')}`);
  }
  return spec;
}

/** One service of a spec by name. @throws CliError naming the known ones */
export function findService(spec: MigrationSpec, name: string): ServiceSpec {
  const service = serviceByName(spec, name);
  if (!service) {
    throw new CliError(
      `migration "${spec.name}" has no service "${name}": its services are ${spec.services.map((s) => s.name).join(', ')}`,
    );
  }
  return service;
}
