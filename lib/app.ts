/**
 * Builds the Cutover CDK app for one environment: a platform stack and one stack per service of
 * each migration. Shared by `bin/app.ts` (the CDK CLI), `bin/synth.ts` (`npm start`) and tests.
 */
import { App, Duration, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { migrations as bundledMigrations } from '../migrations/index.js';
import { controlTowerValidator } from './control-tower.js';
import { assertNoSharedEvents } from './spec/overlap.js';
import type { MigrationSpec } from './spec/schema.js';
import { PlatformStack } from './stacks/platform-stack.js';
import { ServiceStack } from './stacks/service-stack.js';
import { cdkJsonContext, type EnvironmentSettings, environmentSettings } from './stacks/settings.js';

export interface BuildAppOptions {
  /** An environment named in cdk.json's `context.environments`. @default - context `env`, else 'dev' */
  readonly env?: string;
  /** Cloud assembly directory. @default - the CLI's (CDK_OUTDIR) or a temporary directory */
  readonly outdir?: string;
  /** Extra context, e.g. `{ 'aws:cdk:bundling-stacks': [] }` to skip bundling in tests. */
  readonly context?: Record<string, unknown>;
  /** @default - the bundled migrations (magento, menu) */
  readonly migrations?: readonly MigrationSpec[];
  /**
   * Run cdk-nag's AwsSolutions pack and AWS Control Tower's proactive controls
   * (lib/control-tower.ts) at synthesis. @default true
   */
  readonly nag?: boolean;
  /**
   * CDK's built-in CloudFormation schema validation at synthesis. It costs ~8 s per app here
   * (half the synthesis), so it is off unless asked for: this option, or
   * `-c cfnValidation=true` on the CLI. The app test runs it on every environment.
   * @default - context `cfnValidation`, else false
   */
  readonly cfnValidation?: boolean;
}

export interface CutoverApp {
  readonly app: App;
  readonly env: string;
  readonly settings: EnvironmentSettings;
  readonly platform: PlatformStack;
  readonly services: readonly ServiceStack[];
}

export function buildApp(options: BuildAppOptions = {}): CutoverApp {
  // Outside the CLI (npm start, tests) cdk.json's context is not loaded for us.
  const fileContext = process.env.CDK_CONTEXT_JSON ? {} : cdkJsonContext();
  const context = { ...fileContext, ...options.context };
  const cliContext = process.env.CDK_CONTEXT_JSON ? JSON.parse(process.env.CDK_CONTEXT_JSON) : {};
  const cfnValidation =
    options.cfnValidation ?? String(cliContext.cfnValidation ?? context['cfnValidation']) === 'true';
  const app = new App({
    outdir: options.outdir,
    builtinCloudFormationValidation: cfnValidation,
    context,
  });
  const env = options.env ?? (app.node.tryGetContext('env') as string | undefined) ?? 'dev';
  const settings = environmentSettings(app.node.tryGetContext('environments'), env);
  const awsEnv =
    settings.account || settings.region ? { account: settings.account, region: settings.region } : undefined;
  const specs = options.migrations ?? bundledMigrations;
  assertNoSharedEvents(specs);

  const platform = new PlatformStack(app, `cutover-${env}-platform`, {
    env: awsEnv,
    stage: env,
    settings,
    migrations: specs,
    description: `Cutover ${env}: platform bus, tables, flags, rollback`,
  });
  const services: ServiceStack[] = [];
  for (const spec of specs) {
    for (const service of spec.services) {
      services.push(
        new ServiceStack(app, `cutover-${env}-${spec.name}-${service.name.replace(/_/g, '-')}`, {
          env: awsEnv,
          platform,
          spec,
          service,
          consistencyCheckInterval: Duration.minutes(settings.consistencyCheckMinutes ?? 15),
          description: `Cutover ${env}: ${spec.name} ${service.name} sync`,
        }),
      );
    }
  }
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true }),
      controlTowerValidator(env),
    );
  }
  return { app, env, settings, platform, services };
}
