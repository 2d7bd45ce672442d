/**
 * An in-memory, stateful {@link FlagDeploymentPort}: hosted versions, deployments and their
 * states behave as AppConfig's do, so rollout and rollback logic can be exercised without AWS.
 *
 * Deployments start in `DEPLOYING` and stay there until the test moves them on:
 * `advance(id)` (DEPLOYING -> BAKING -> COMPLETE), `complete(id)`, or `monitorAlarm(id)` (what an
 * environment monitor does: ROLLED_BACK). With `{ autoComplete: true }` every deployment
 * completes at once. Starting a deployment while one is in progress rejects with a
 * `ConflictException`, as AppConfig does.
 *
 * @example
 * const port = new FakeAppConfig(toFeatureFlagsDocument(spec, initialFlags(spec)), { autoComplete: true });
 */
import {
  type DeploymentState,
  type FeatureFlagsDocument,
  type FlagDeployment,
  type FlagDeploymentPort,
  IN_PROGRESS_STATES,
  parseFeatureFlagsDocument,
  type StrategyKind,
} from '../../lambdas/domain/flags.js';

export class FakeAppConfigConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictException';
  }
}

export interface FakeAppConfigOptions {
  /** Complete every deployment as soon as it starts. @default false */
  readonly autoComplete?: boolean;
  /** Clock for `startedAt`/`completedAt`. @default - Date.now */
  readonly now?: () => number;
}

interface MutableDeployment {
  id: string;
  version: number;
  state: DeploymentState;
  strategy: StrategyKind;
  description?: string;
  startedAt: string;
  completedAt?: string;
}

export class FakeAppConfig implements FlagDeploymentPort {
  /** Hosted versions by number (1-based). */
  readonly versions = new Map<number, FeatureFlagsDocument>();
  /** Every deployment, oldest first. */
  readonly deployments: MutableDeployment[] = [];
  /** Every call, in order, for assertions (`startDeployment:3:rollback`, `stopDeployment:2`). */
  readonly calls: string[] = [];
  /** Complete every deployment as soon as it starts (may be switched during a test). */
  autoComplete: boolean;
  private readonly now: () => number;

  /** @param initial hosted as version 1 and deployed (COMPLETE), as the stack does. */
  constructor(initial?: FeatureFlagsDocument, options: FakeAppConfigOptions = {}) {
    this.autoComplete = options.autoComplete ?? false;
    this.now = options.now ?? Date.now;
    if (initial) {
      this.versions.set(1, parseFeatureFlagsDocument(structuredClone(initial)));
      const at = new Date(this.now()).toISOString();
      this.deployments.push({
        id: '1',
        version: 1,
        state: 'COMPLETE',
        strategy: 'gradual',
        description: 'initial',
        startedAt: at,
        completedAt: at,
      });
    }
  }

  async latestVersion(): Promise<{ version: number; document: FeatureFlagsDocument }> {
    this.calls.push('latestVersion');
    const version = this.versions.size;
    if (version === 0) throw new Error('ResourceNotFoundException: no hosted configuration version');
    return { version, document: structuredClone(this.versions.get(version)!) };
  }

  async getVersion(version: number): Promise<FeatureFlagsDocument> {
    this.calls.push(`getVersion:${version}`);
    const doc = this.versions.get(version);
    if (!doc) throw new Error(`ResourceNotFoundException: version ${version}`);
    return structuredClone(doc);
  }

  async createVersion(document: FeatureFlagsDocument): Promise<number> {
    // AppConfig validates FeatureFlags documents (constraints included) on create.
    const valid = parseFeatureFlagsDocument(structuredClone(document));
    const version = this.versions.size + 1;
    this.versions.set(version, valid);
    this.calls.push(`createVersion:${version}`);
    return version;
  }

  async startDeployment(version: number, strategy: StrategyKind, description?: string): Promise<string> {
    this.calls.push(`startDeployment:${version}:${strategy}`);
    if (!this.versions.has(version)) throw new Error(`ResourceNotFoundException: version ${version}`);
    const active = this.deployments.find((d) => IN_PROGRESS_STATES.has(d.state));
    if (active) throw new FakeAppConfigConflict(`deployment ${active.id} is in progress`);
    const d: MutableDeployment = {
      id: String(this.deployments.length + 1),
      version,
      state: 'DEPLOYING',
      strategy,
      startedAt: new Date(this.now()).toISOString(),
      ...(description ? { description } : {}),
    };
    this.deployments.push(d);
    if (this.autoComplete) this.complete(d.id);
    return d.id;
  }

  async getDeployment(id: string): Promise<FlagDeployment> {
    this.calls.push(`getDeployment:${id}`);
    return { ...this.find(id) };
  }

  async stopDeployment(id: string): Promise<void> {
    this.calls.push(`stopDeployment:${id}`);
    const d = this.find(id);
    if (!IN_PROGRESS_STATES.has(d.state))
      throw new Error(`BadRequestException: deployment ${id} is ${d.state}`);
    d.state = 'ROLLED_BACK';
    d.completedAt = new Date(this.now()).toISOString();
  }

  async activeDeployment(): Promise<FlagDeployment | undefined> {
    this.calls.push('activeDeployment');
    const d = this.deployments.find((x) => IN_PROGRESS_STATES.has(x.state));
    return d ? { ...d } : undefined;
  }

  async listDeployments(limit = 50): Promise<FlagDeployment[]> {
    this.calls.push('listDeployments');
    return [...this.deployments]
      .reverse()
      .slice(0, limit)
      .map((d) => ({ ...d }));
  }

  // --- test controls -------------------------------------------------------------------------

  /** DEPLOYING -> BAKING -> COMPLETE. */
  advance(id: string): DeploymentState {
    const d = this.find(id);
    if (d.state === 'DEPLOYING') d.state = 'BAKING';
    else if (d.state === 'BAKING') this.complete(id);
    return d.state;
  }

  complete(id: string): void {
    const d = this.find(id);
    d.state = 'COMPLETE';
    d.completedAt = new Date(this.now()).toISOString();
  }

  /** What an environment monitor does when its alarm fires during deploy or bake. */
  monitorAlarm(id: string): void {
    const d = this.find(id);
    if (!IN_PROGRESS_STATES.has(d.state)) throw new Error(`deployment ${id} is not in progress`);
    d.state = 'ROLLED_BACK';
    d.completedAt = new Date(this.now()).toISOString();
  }

  /** The document of the newest COMPLETE deployment: what clients receive now. */
  deployed(): FeatureFlagsDocument {
    const d = [...this.deployments].reverse().find((x) => x.state === 'COMPLETE');
    if (!d) throw new Error('nothing deployed');
    return structuredClone(this.versions.get(d.version)!);
  }

  private find(id: string): MutableDeployment {
    const d = this.deployments.find((x) => x.id === id);
    if (!d) throw new Error(`ResourceNotFoundException: deployment ${id}`);
    return d;
  }
}
