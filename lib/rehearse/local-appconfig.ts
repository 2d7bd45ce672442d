/**
 * A stateful stand-in for the AppConfig control plane of one application, environment and
 * FeatureFlags profile: hosted versions, deployments and their states.
 *
 * It is faithful at the API boundary: {@link LocalAppConfig.client} answers the SDK commands the
 * adapter sends (ListDeployments with MaxResults/NextToken pages, GetDeployment, StartDeployment,
 * StopDeployment, Create/Get/ListHostedConfigurationVersion(s)) with outputs of exactly the
 * shapes recorded under test/contracts/appconfig/, and throws the SDK's own `ConflictException`
 * / `ResourceNotFoundException` / `BadRequestException`. The {@link FlagDeploymentPort} methods
 * are the real adapter (`AppConfigFlagStore`) over that client, so every test using this fake
 * also runs the adapter's mapping. test/unit/contracts-appconfig.test.ts checks both.
 *
 * What AppConfig does and the fake models:
 * - one deployment per environment at a time: StartDeployment while one is DEPLOYING, BAKING or
 *   ROLLING_BACK fails with `ConflictException` (HTTP 409);
 * - StopDeployment (with `AllowRevert`, as the adapter sends it) moves an in-progress deployment
 *   to ROLLING_BACK; it becomes ROLLED_BACK `rollbackDelayMs` later on the fake's clock;
 * - a FeatureFlags version is validated when it is created.
 *
 * Deployments start in DEPLOYING and stay there until the test moves them on: `advance(id)`
 * (DEPLOYING -> BAKING -> COMPLETE), `complete(id)`, or `monitorAlarm(id)` (what an environment
 * monitor does: ROLLED_BACK). With `{ autoComplete: true }` every deployment completes at once.
 * With `strategies` (the rehearsal: the synthesized deployment strategies, durations divided by
 * its time scale) a deployment moves on by itself on the clock: BAKING after the strategy's
 * deployment duration, COMPLETE after its final bake time as well.
 *
 * Used by the tests (test/support/fake-appconfig.ts re-exports it) and by `cutover rehearse`.
 *
 * @example
 * const port = new LocalAppConfig(toFeatureFlagsDocument(spec, initialFlags(spec)), { autoComplete: true });
 */
import {
  type AppConfigClient,
  BadRequestException,
  ConflictException,
  ResourceNotFoundException,
} from '@aws-sdk/client-appconfig';
import { AppConfigFlagStore } from '../../lambdas/adapters/appconfig.js';
import {
  type DeploymentState,
  type FeatureFlagsDocument,
  type FlagDeployment,
  type FlagDeploymentPort,
  IN_PROGRESS_STATES,
  parseFeatureFlagsDocument,
  type StrategyKind,
} from '../../lambdas/domain/flags.js';

export interface LocalAppConfigOptions {
  /** Complete every deployment as soon as it starts. @default false */
  readonly autoComplete?: boolean;
  /** Clock for `startedAt`/`completedAt` and the roll-back delay. @default - Date.now */
  readonly now?: () => number;
  /** How long a stopped deployment stays ROLLING_BACK (ms of the fake's clock). @default 2_000 */
  readonly rollbackDelayMs?: number;
  /**
   * Deployments move on by themselves on the clock, by these strategies (ms of the clock).
   * @default - they move only when told (`advance`, `complete`)
   */
  readonly strategies?: Readonly<Record<StrategyKind, StrategyTiming>>;
}

/** How long a deployment by a strategy deploys and then bakes (ms). */
export interface StrategyTiming {
  readonly deployMs: number;
  readonly bakeMs: number;
}

/** Ids of the fake's application, environment, profile and the two strategies the stack creates. */
export const LOCAL_APPCONFIG_IDS = {
  application: 'abc1234',
  environment: 'env5678',
  profile: 'prf9012',
  profileName: 'flags',
  strategies: { gradual: 'grd3456', rollback: 'rbk7890' },
} as const;

/** Strategy parameters as the stack creates them (gradual: linear, with bake; rollback: all at once). */
const STRATEGY = {
  gradual: { DeploymentDurationInMinutes: 10, FinalBakeTimeInMinutes: 10, GrowthFactor: 20 },
  rollback: { DeploymentDurationInMinutes: 0, FinalBakeTimeInMinutes: 0, GrowthFactor: 100 },
} as const;

interface Progress {
  stoppedAt?: number;
  events: Array<{ EventType: string; TriggeredBy: string; Description: string; OccurredAt: Date }>;
}

type Input = Record<string, unknown>;

export class LocalAppConfig implements FlagDeploymentPort {
  /** Hosted versions by number (1-based). */
  readonly versions = new Map<number, FeatureFlagsDocument>();
  /** Every deployment, oldest first (ids are AppConfig's deployment numbers, from 1). */
  readonly deployments: Array<{
    id: string;
    version: number;
    state: DeploymentState;
    strategy: StrategyKind;
    description?: string;
    startedAt: string;
    completedAt?: string;
  }> = [];
  /** Every port call, in order, for assertions (`startDeployment:3:rollback`, `stopDeployment:2`). */
  readonly calls: string[] = [];
  /** Every SDK command the adapter sent (`ListDeployments`, …), in order. */
  readonly commands: string[] = [];
  /** Complete every deployment as soon as it starts (may be switched during a test). */
  autoComplete: boolean;
  rollbackDelayMs: number;
  /** The AppConfig API of this fake, for the SDK's `send` (what the adapter is built on). */
  readonly client: AppConfigClient;
  private readonly now: () => number;
  private readonly timing?: Readonly<Record<StrategyKind, StrategyTiming>>;
  private readonly progress = new Map<string, Progress>();
  private readonly store: AppConfigFlagStore;
  private nextVersion = 1;

  /** @param initial hosted as version 1 and deployed (COMPLETE), as the stack does. */
  constructor(initial?: FeatureFlagsDocument, options: LocalAppConfigOptions = {}) {
    this.autoComplete = options.autoComplete ?? false;
    this.rollbackDelayMs = options.rollbackDelayMs ?? 2_000;
    this.now = options.now ?? Date.now;
    if (options.strategies) this.timing = options.strategies;
    this.client = { send: (command: unknown) => this.handle(command) } as unknown as AppConfigClient;
    this.store = new AppConfigFlagStore({
      applicationId: LOCAL_APPCONFIG_IDS.application,
      environmentId: LOCAL_APPCONFIG_IDS.environment,
      profileId: LOCAL_APPCONFIG_IDS.profile,
      strategies: LOCAL_APPCONFIG_IDS.strategies,
      client: this.client,
    });
    if (initial) {
      const version = this.host(parseFeatureFlagsDocument(structuredClone(initial)));
      const id = this.begin(version, 'gradual', 'initial');
      this.complete(id);
    }
  }

  // --- the port: the real adapter over this fake's API ---------------------------------------

  latestVersion(): Promise<{ version: number; document: FeatureFlagsDocument }> {
    this.calls.push('latestVersion');
    return this.store.latestVersion();
  }

  getVersion(version: number): Promise<FeatureFlagsDocument> {
    this.calls.push(`getVersion:${version}`);
    return this.store.getVersion(version);
  }

  async createVersion(document: FeatureFlagsDocument, description?: string): Promise<number> {
    const version = await this.store.createVersion(document, description);
    this.calls.push(`createVersion:${version}`);
    return version;
  }

  startDeployment(version: number, strategy: StrategyKind, description?: string): Promise<string> {
    this.calls.push(`startDeployment:${version}:${strategy}`);
    return this.store.startDeployment(version, strategy, description);
  }

  getDeployment(id: string): Promise<FlagDeployment> {
    this.calls.push(`getDeployment:${id}`);
    return this.store.getDeployment(id);
  }

  stopDeployment(id: string): Promise<void> {
    this.calls.push(`stopDeployment:${id}`);
    return this.store.stopDeployment(id);
  }

  activeDeployment(): Promise<FlagDeployment | undefined> {
    this.calls.push('activeDeployment');
    return this.store.activeDeployment();
  }

  listDeployments(limit?: number): Promise<FlagDeployment[]> {
    this.calls.push('listDeployments');
    return this.store.listDeployments(limit);
  }

  deploymentHistory(): AsyncIterable<FlagDeployment> {
    this.calls.push('deploymentHistory');
    return this.store.deploymentHistory();
  }

  // --- test controls -------------------------------------------------------------------------

  /** DEPLOYING -> BAKING -> COMPLETE. */
  advance(id: string): DeploymentState {
    const d = this.find(id);
    if (d.state === 'DEPLOYING') {
      d.state = 'BAKING';
      this.log(id, 'BAKE_TIME_STARTED', 'APPCONFIG', 'Deployment bake time started');
    } else if (d.state === 'BAKING') this.complete(id);
    return d.state;
  }

  complete(id: string): void {
    const d = this.find(id);
    d.state = 'COMPLETE';
    d.completedAt = new Date(this.now()).toISOString();
    this.log(id, 'DEPLOYMENT_COMPLETED', 'APPCONFIG', 'Deployment completed');
  }

  /** What an environment monitor does when its alarm fires during deploy or bake. */
  monitorAlarm(id: string): void {
    const d = this.find(id);
    if (!IN_PROGRESS_STATES.has(d.state)) throw new Error(`deployment ${id} is not in progress`);
    d.state = 'ROLLED_BACK';
    d.completedAt = new Date(this.now()).toISOString();
    this.log(id, 'ROLLBACK_COMPLETED', 'CLOUDWATCH_ALARM', 'Rollback completed');
  }

  /** Deletes a hosted version (DeleteHostedConfigurationVersion): its content is gone for good. */
  deleteVersion(version: number): void {
    this.versions.delete(version);
  }

  /** The document of the newest COMPLETE deployment: what clients receive now. */
  deployed(): FeatureFlagsDocument {
    return structuredClone(this.versions.get(this.deployedVersion())!);
  }

  /** The hosted version of the newest COMPLETE deployment. */
  deployedVersion(): number {
    this.settle();
    const d = [...this.deployments].reverse().find((x) => x.state === 'COMPLETE');
    if (!d) throw new Error('nothing deployed');
    return d.version;
  }

  // --- the AppConfig API ---------------------------------------------------------------------

  private async handle(command: unknown): Promise<unknown> {
    const c = command as { constructor: { name: string }; input: Input };
    const name = c.constructor.name.replace(/Command$/, '');
    this.commands.push(name);
    this.settle();
    const input = c.input;
    switch (name) {
      case 'ListHostedConfigurationVersions': {
        const max = this.maxResults(input, 50);
        const items = [...this.versions.keys()].sort((a, b) => b - a).slice(0, max);
        return {
          Items: items.map((v) => ({
            ApplicationId: LOCAL_APPCONFIG_IDS.application,
            ConfigurationProfileId: LOCAL_APPCONFIG_IDS.profile,
            VersionNumber: v,
            ContentType: 'application/json',
          })),
        };
      }
      case 'GetHostedConfigurationVersion': {
        const v = input['VersionNumber'] as number;
        const doc = this.versions.get(v);
        if (!doc) throw notFound(`Hosted configuration version ${v}`, 'HostedConfigurationVersion');
        return {
          ApplicationId: LOCAL_APPCONFIG_IDS.application,
          ConfigurationProfileId: LOCAL_APPCONFIG_IDS.profile,
          VersionNumber: v,
          Content: new TextEncoder().encode(JSON.stringify(doc)),
          ContentType: 'application/json',
        };
      }
      case 'CreateHostedConfigurationVersion': {
        const text = new TextDecoder().decode(input['Content'] as Uint8Array);
        // AppConfig validates FeatureFlags documents (constraints included) on create.
        const version = this.host(parseFeatureFlagsDocument(text));
        return {
          ApplicationId: LOCAL_APPCONFIG_IDS.application,
          ConfigurationProfileId: LOCAL_APPCONFIG_IDS.profile,
          VersionNumber: version,
          ContentType: input['ContentType'],
          ...(input['Description'] ? { Description: input['Description'] } : {}),
        };
      }
      case 'StartDeployment': {
        const version = Number(input['ConfigurationVersion']);
        if (!this.versions.has(version)) {
          throw notFound(`Hosted configuration version ${version}`, 'HostedConfigurationVersion');
        }
        const strategy = this.strategyOf(input['DeploymentStrategyId']);
        const id = this.begin(version, strategy, input['Description'] as string | undefined);
        if (this.autoComplete) this.complete(id);
        return this.deploymentOutput(this.find(id));
      }
      case 'GetDeployment':
        return this.deploymentOutput(this.find(String(input['DeploymentNumber'])));
      case 'StopDeployment': {
        const d = this.find(String(input['DeploymentNumber']));
        const revert = input['AllowRevert'] === true;
        if (d.state === 'COMPLETE' && revert) {
          d.state = 'REVERTED';
          this.log(d.id, 'REVERTED', 'USER', 'Deployment reverted');
        } else if (
          d.state === 'DEPLOYING' ||
          (revert && (d.state === 'BAKING' || d.state === 'VALIDATING'))
        ) {
          d.state = 'ROLLING_BACK';
          this.progress.get(d.id)!.stoppedAt = this.now();
          this.log(d.id, 'ROLLBACK_STARTED', 'USER', 'Rollback started');
        } else {
          throw new BadRequestException({
            message: `Deployment ${d.id} is ${d.state} and cannot be stopped`,
            $metadata: { httpStatusCode: 400 },
            Message: `Deployment ${d.id} is ${d.state} and cannot be stopped`,
          });
        }
        const s = STRATEGY[d.strategy];
        return {
          DeploymentDurationInMinutes: s.DeploymentDurationInMinutes,
          DeploymentNumber: Number(d.id),
          FinalBakeTimeInMinutes: s.FinalBakeTimeInMinutes,
          GrowthFactor: s.GrowthFactor,
          PercentageComplete: d.state === 'REVERTED' ? 100 : 1,
        };
      }
      case 'ListDeployments': {
        const max = this.maxResults(input, 50);
        const offset = input['NextToken'] ? Number(Buffer.from(String(input['NextToken']), 'base64url')) : 0;
        const newestFirst = [...this.deployments].reverse();
        const page = newestFirst.slice(offset, offset + max);
        const next = offset + max < newestFirst.length ? offset + max : undefined;
        return {
          Items: page.map((d) => this.summary(d)),
          ...(next !== undefined ? { NextToken: Buffer.from(String(next)).toString('base64url') } : {}),
        };
      }
      default:
        throw new Error(`LocalAppConfig: ${name} is not modelled`);
    }
  }

  private host(doc: FeatureFlagsDocument): number {
    const version = this.nextVersion++;
    this.versions.set(version, doc);
    return version;
  }

  /** A new deployment, or the ConflictException AppConfig answers while one is in progress. */
  private begin(version: number, strategy: StrategyKind, description?: string): string {
    const active = this.deployments.find((d) => IN_PROGRESS_STATES.has(d.state));
    const id = String(this.deployments.length + 1);
    if (active) {
      // The recorded 409 (test/contracts/appconfig/start-deployment-conflict.json).
      const message = `Deployment number ${id} already exists`;
      throw new ConflictException({ message, $metadata: { httpStatusCode: 409 }, Message: message });
    }
    this.deployments.push({
      id,
      version,
      state: 'DEPLOYING',
      strategy,
      startedAt: new Date(this.now()).toISOString(),
      ...(description ? { description } : {}),
    });
    this.progress.set(id, { events: [] });
    this.log(id, 'DEPLOYMENT_STARTED', 'USER', 'Deployment started');
    return id;
  }

  /**
   * Lets a stopped deployment finish rolling back once its delay has passed, and (with
   * `strategies`) a deployment bake and complete once its strategy's times have passed.
   */
  private settle(): void {
    const now = this.now();
    for (const d of this.deployments) {
      const t = this.timing?.[d.strategy];
      if (t && (d.state === 'DEPLOYING' || d.state === 'BAKING')) {
        const started = Date.parse(d.startedAt);
        if (d.state === 'DEPLOYING' && now >= started + t.deployMs) this.advance(d.id);
        if (d.state === 'BAKING' && now >= started + t.deployMs + t.bakeMs) {
          this.complete(d.id);
          // When it completed on the clock (settled lazily, at the next call): the gates' bake
          // window starts there.
          d.completedAt = new Date(started + t.deployMs + t.bakeMs).toISOString();
        }
      }
      const stoppedAt = this.progress.get(d.id)?.stoppedAt;
      if (d.state === 'ROLLING_BACK' && stoppedAt !== undefined && now >= stoppedAt + this.rollbackDelayMs) {
        d.state = 'ROLLED_BACK';
        d.completedAt = new Date(stoppedAt + this.rollbackDelayMs).toISOString();
        this.log(d.id, 'ROLLBACK_COMPLETED', 'APPCONFIG', 'Rollback completed');
      }
    }
  }

  private log(id: string, type: string, by: string, description: string): void {
    this.progress.get(id)?.events.unshift({
      Description: description,
      EventType: type,
      OccurredAt: new Date(this.now()),
      TriggeredBy: by,
    });
  }

  private percentage(d: { state: DeploymentState }): number {
    return d.state === 'DEPLOYING' || d.state === 'ROLLING_BACK' ? 1 : 100;
  }

  /** The GetDeployment / StartDeployment output (keys as recorded). */
  private deploymentOutput(d: LocalAppConfig['deployments'][number]) {
    return {
      ApplicationId: LOCAL_APPCONFIG_IDS.application,
      ...(d.completedAt ? { CompletedAt: new Date(d.completedAt) } : {}),
      ConfigurationLocationUri: 'hosted',
      ConfigurationName: LOCAL_APPCONFIG_IDS.profileName,
      ConfigurationProfileId: LOCAL_APPCONFIG_IDS.profile,
      ConfigurationVersion: String(d.version),
      ...STRATEGY[d.strategy],
      DeploymentNumber: Number(d.id),
      DeploymentStrategyId: LOCAL_APPCONFIG_IDS.strategies[d.strategy],
      ...(d.description ? { Description: d.description } : {}),
      EnvironmentId: LOCAL_APPCONFIG_IDS.environment,
      EventLog: this.progress.get(d.id)?.events.map((e) => ({ ...e })) ?? [],
      GrowthType: 'LINEAR',
      PercentageComplete: this.percentage(d),
      StartedAt: new Date(d.startedAt),
      State: d.state,
    };
  }

  /** One ListDeployments item (keys as recorded). */
  private summary(d: LocalAppConfig['deployments'][number]) {
    return {
      ...(d.completedAt ? { CompletedAt: new Date(d.completedAt) } : {}),
      ConfigurationName: LOCAL_APPCONFIG_IDS.profileName,
      ConfigurationVersion: String(d.version),
      ...STRATEGY[d.strategy],
      DeploymentNumber: Number(d.id),
      GrowthType: 'LINEAR',
      PercentageComplete: this.percentage(d),
      StartedAt: new Date(d.startedAt),
      State: d.state,
    };
  }

  private strategyOf(id: unknown): StrategyKind {
    if (id === LOCAL_APPCONFIG_IDS.strategies.gradual) return 'gradual';
    if (id === LOCAL_APPCONFIG_IDS.strategies.rollback) return 'rollback';
    throw notFound(`Deployment strategy ${String(id)}`, 'DeploymentStrategy');
  }

  private maxResults(input: Input, limit: number): number {
    const max = (input['MaxResults'] as number | undefined) ?? limit;
    if (!Number.isInteger(max) || max < 1 || max > limit) {
      throw new BadRequestException({
        message: `MaxResults must be from 1 to ${limit}`,
        $metadata: { httpStatusCode: 400 },
        Message: `MaxResults must be from 1 to ${limit}`,
      });
    }
    return max;
  }

  private find(id: string): LocalAppConfig['deployments'][number] {
    const d = this.deployments.find((x) => x.id === id);
    if (!d) throw notFound(`Deployment ${id}`, 'Deployment');
    return d;
  }
}

function notFound(what: string, resource: string): ResourceNotFoundException {
  const message = `${what} not found`;
  return new ResourceNotFoundException({
    message,
    $metadata: { httpStatusCode: 404 },
    Message: message,
    ResourceName: resource,
  });
}

/**
 * The retrieved form AppConfig Data serves for a stored FeatureFlags document: flag values only,
 * an enabled flag with its attributes, a disabled flag as `{ "enabled": false }` alone
 * (test/contracts/appconfig/feature-flags-retrieved.json).
 */
export function retrievedForm(doc: FeatureFlagsDocument): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.keys(doc.flags).map((name) => {
      const value = doc.values[name];
      return [name, value?.enabled ? { ...value } : { enabled: false }];
    }),
  );
}
