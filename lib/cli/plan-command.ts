/**
 * `cutover plan <migration> [service]`: registered on the `cutover` program (bin/cutover.ts).
 * No AWS call: the spec and cdk.json's environment settings only.
 */
import type { Command } from 'commander';
import { cdkJsonContext, EnvironmentSettingsError, environmentSettings } from '../stacks/settings.js';
import { CliError, EXIT } from './errors.js';
import { flagDeploymentTiming, formatPlan, type MigrationPlan, migrationPlan } from './plan.js';
import { findMigration, findService, loadMigrations } from './specs.js';

/** Builds the plan for the command's arguments. */
export async function planFor(
  migration: string,
  service: string | undefined,
  env: string,
): Promise<MigrationPlan> {
  const spec = findMigration(await loadMigrations(), migration);
  let settings: ReturnType<typeof environmentSettings>;
  try {
    settings = environmentSettings(cdkJsonContext()['environments'], env);
  } catch (e) {
    if (e instanceof EnvironmentSettingsError) throw new CliError(e.message, EXIT.usage);
    throw e;
  }
  return migrationPlan(
    spec,
    env,
    flagDeploymentTiming(settings),
    service ? findService(spec, service) : undefined,
  );
}

export function registerPlanCommand(program: Command, print: (text: string) => void): void {
  program
    .command('plan')
    .description(
      'the rollout of a migration (or one service) from its spec: steps, flags, gates, bakes, approvals, minimum duration; no AWS',
    )
    .argument('<migration>', 'the migration (spec name)')
    .argument('[service]', 'one service only')
    .option('--env <env>', 'environment whose flag-deployment timing applies (cdk.json)', 'dev')
    .option('--json', 'print the plan as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover plan magento\n  cutover plan magento customer --env prod --json',
    )
    .action(async (migration: string, service: string | undefined, o: { env: string; json?: boolean }) => {
      const plan = await planFor(migration, service, o.env);
      print(o.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
    });
}
