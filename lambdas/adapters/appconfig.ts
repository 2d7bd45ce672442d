/**
 * {@link FlagDeploymentPort} over the AppConfig control-plane API (@aws-sdk/client-appconfig):
 * one application, environment and FeatureFlags profile, and the two deployment strategies the
 * stack creates (ids from RUNTIME_ENV, see {@link appConfigPortFromEnv}).
 */
import {
  AppConfigClient,
  CreateHostedConfigurationVersionCommand,
  type DeploymentSummary,
  GetDeploymentCommand,
  GetHostedConfigurationVersionCommand,
  ListDeploymentsCommand,
  ListHostedConfigurationVersionsCommand,
  StartDeploymentCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-appconfig';
import { functionEnv, RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import {
  type DeploymentState,
  type FeatureFlagsDocument,
  type FlagDeployment,
  type FlagDeploymentPort,
  IN_PROGRESS_STATES,
  parseFeatureFlagsDocument,
  type StrategyKind,
} from '../domain/flags.js';

export interface AppConfigFlagStoreOptions {
  readonly applicationId: string;
  readonly environmentId: string;
  readonly profileId: string;
  readonly strategies: Readonly<Record<StrategyKind, string>>;
  /** @default a client for the Lambda's region */
  readonly client?: AppConfigClient;
}

/** The port from the environment the stacks set (MigrationFlags.runtimeEnvironment()). */
export function appConfigPortFromEnv(env: NodeJS.ProcessEnv = functionEnv()): AppConfigFlagStore {
  const need = (name: string) => requiredEnv(name, env);
  return new AppConfigFlagStore({
    applicationId: need(RUNTIME_ENV.appConfigApplicationId),
    environmentId: need(RUNTIME_ENV.appConfigEnvironmentId),
    profileId: need(RUNTIME_ENV.appConfigProfileId),
    strategies: {
      gradual: need(RUNTIME_ENV.rolloutStrategyId),
      rollback: need(RUNTIME_ENV.rollbackStrategyId),
    },
  });
}

export class AppConfigFlagStore implements FlagDeploymentPort {
  private readonly client: AppConfigClient;

  constructor(private readonly options: AppConfigFlagStoreOptions) {
    this.client = options.client ?? new AppConfigClient({});
  }

  async latestVersion(): Promise<{ version: number; document: FeatureFlagsDocument }> {
    const res = await this.client.send(
      new ListHostedConfigurationVersionsCommand({
        ApplicationId: this.options.applicationId,
        ConfigurationProfileId: this.options.profileId,
        MaxResults: 1,
      }),
    );
    const version = res.Items?.[0]?.VersionNumber;
    if (version === undefined) throw new Error('the flag profile has no hosted configuration version');
    return { version, document: await this.getVersion(version) };
  }

  async getVersion(version: number): Promise<FeatureFlagsDocument> {
    const res = await this.client.send(
      new GetHostedConfigurationVersionCommand({
        ApplicationId: this.options.applicationId,
        ConfigurationProfileId: this.options.profileId,
        VersionNumber: version,
      }),
    );
    return parseFeatureFlagsDocument(res.Content ?? new Uint8Array());
  }

  async createVersion(document: FeatureFlagsDocument, description?: string): Promise<number> {
    const res = await this.client.send(
      new CreateHostedConfigurationVersionCommand({
        ApplicationId: this.options.applicationId,
        ConfigurationProfileId: this.options.profileId,
        ContentType: 'application/json',
        Content: new TextEncoder().encode(JSON.stringify(parseFeatureFlagsDocument(document))),
        ...(description ? { Description: description.slice(0, 1024) } : {}),
      }),
    );
    if (res.VersionNumber === undefined) throw new Error('AppConfig returned no version number');
    return res.VersionNumber;
  }

  async startDeployment(version: number, strategy: StrategyKind, description?: string): Promise<string> {
    const res = await this.client.send(
      new StartDeploymentCommand({
        ApplicationId: this.options.applicationId,
        EnvironmentId: this.options.environmentId,
        ConfigurationProfileId: this.options.profileId,
        ConfigurationVersion: String(version),
        DeploymentStrategyId: this.options.strategies[strategy],
        ...(description ? { Description: description.slice(0, 1024) } : {}),
      }),
    );
    if (res.DeploymentNumber === undefined) throw new Error('AppConfig returned no deployment number');
    return String(res.DeploymentNumber);
  }

  async getDeployment(id: string): Promise<FlagDeployment> {
    const d = await this.client.send(
      new GetDeploymentCommand({
        ApplicationId: this.options.applicationId,
        EnvironmentId: this.options.environmentId,
        DeploymentNumber: Number(id),
      }),
    );
    return {
      id: String(d.DeploymentNumber ?? id),
      version: Number(d.ConfigurationVersion),
      state: (d.State ?? 'DEPLOYING') as DeploymentState,
      strategy: this.strategyKind(d.DeploymentStrategyId),
      ...(d.Description ? { description: d.Description } : {}),
      startedAt: (d.StartedAt ?? new Date(0)).toISOString(),
      ...(d.CompletedAt ? { completedAt: d.CompletedAt.toISOString() } : {}),
    };
  }

  async stopDeployment(id: string): Promise<void> {
    await this.client.send(
      new StopDeploymentCommand({
        ApplicationId: this.options.applicationId,
        EnvironmentId: this.options.environmentId,
        DeploymentNumber: Number(id),
        // Without it AppConfig stops only a DEPLOYING deployment, not a BAKING one (StopDeployment
        // API reference); with it an in-progress deployment ends ROLLED_BACK.
        AllowRevert: true,
      }),
    );
  }

  async activeDeployment(): Promise<FlagDeployment | undefined> {
    const { items } = await this.page(5);
    const active = items.find((s) => IN_PROGRESS_STATES.has(s.State as DeploymentState));
    return active ? this.getDeployment(String(active.DeploymentNumber)) : undefined;
  }

  /** Newest first; the strategy of each comes from GetDeployment (the summary lacks it). */
  async listDeployments(limit = 20): Promise<FlagDeployment[]> {
    const { items } = await this.page(limit);
    return this.details(items);
  }

  async *deploymentHistory(): AsyncIterable<FlagDeployment> {
    let token: string | undefined;
    do {
      const page = await this.page(50, token);
      yield* await this.details(page.items);
      token = page.nextToken;
    } while (token);
  }

  private details(items: readonly DeploymentSummary[]): Promise<FlagDeployment[]> {
    // A summary names its profile only in recent API versions; without it, it is ours (the
    // environment serves this profile only).
    const ours = items.filter(
      (s) => !s.ConfigurationProfileId || s.ConfigurationProfileId === this.options.profileId,
    );
    return Promise.all(ours.map((s) => this.getDeployment(String(s.DeploymentNumber))));
  }

  /** One page of ListDeployments (MaxResults 1..50), newest first. */
  private async page(
    limit: number,
    nextToken?: string,
  ): Promise<{ items: DeploymentSummary[]; nextToken?: string }> {
    const res = await this.client.send(
      new ListDeploymentsCommand({
        ApplicationId: this.options.applicationId,
        EnvironmentId: this.options.environmentId,
        MaxResults: Math.min(50, Math.max(1, limit)),
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    // AppConfig lists newest first; sorting keeps that true within a page whatever happens.
    const items = [...(res.Items ?? [])].sort(
      (a, b) => (b.DeploymentNumber ?? 0) - (a.DeploymentNumber ?? 0),
    );
    return { items, ...(res.NextToken ? { nextToken: res.NextToken } : {}) };
  }

  private strategyKind(id: string | undefined): StrategyKind | 'other' {
    if (id === this.options.strategies.rollback) return 'rollback';
    if (id === this.options.strategies.gradual) return 'gradual';
    return 'other';
  }
}
