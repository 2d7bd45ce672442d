/**
 * What `cdk synth` (bin/app.ts) and `npm start` (bin/synth.ts) print when the configuration is
 * wrong: the error's own message, which names the migration and each bad field, without a stack
 * trace (a person fixing a spec needs the fields, not the call stack). Anything else is a bug and
 * keeps its stack.
 */
import { LegacyDatabaseNetworkError } from '../constructs/legacy-database-access.js';
import { MigrationOverlapError } from '../spec/overlap.js';
import { SpecError } from '../spec/schema.js';
import { EnvironmentSettingsError } from '../stacks/settings.js';

/** Whether `e` is a mistake in a spec or in cdk.json (as opposed to a bug in Cutover). */
export function isConfigurationError(e: unknown): e is Error {
  return (
    e instanceof SpecError ||
    e instanceof MigrationOverlapError ||
    e instanceof EnvironmentSettingsError ||
    e instanceof LegacyDatabaseNetworkError
  );
}

/**
 * Runs `main`; a configuration error is printed as its message alone on stderr and sets exit
 * code 1. The app must be imported inside `main` (`await import('../lib/app.js')`): the bundled
 * specs are validated when their modules load.
 */
export async function reportConfigurationErrors(
  main: () => Promise<void>,
  stderr: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (!isConfigurationError(e)) throw e;
    stderr(e.message);
    process.exitCode = 1;
  }
}
