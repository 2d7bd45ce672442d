/**
 * The flag model (DESIGN.md, "Flags"): per service a read flag and a write flag, stored in one
 * AppConfig configuration profile of type `AWS.AppConfig.FeatureFlags`.
 *
 * - `<service>_read`  attribute `percentage`: 0–100, the share of users whose reads go to the
 *   new service (sticky buckets, see the gateway router).
 * - `<service>_write` attribute `mode`: `legacy` (writes go to the monolith only), `shadow`
 *   (legacy stays authoritative, the service is written too and compared), `primary` (the
 *   service is authoritative; reverse sync keeps the monolith current).
 *
 * A flag's `enabled` switch is the operator's kill switch: a disabled flag behaves like
 * 0 % / `legacy` whatever its attribute says ({@link effectiveFlags}). The generated document
 * carries `constraints` on every attribute, so AppConfig itself rejects a bad value typed into
 * the console; {@link parseFeatureFlagsDocument} applies the same rules in code.
 *
 * This module is pure: the AppConfig API sits behind {@link FlagDeploymentPort}, implemented
 * by `lambdas/adapters/appconfig.ts` and faked in `test/support/fake-appconfig.ts`.
 *
 * @example
 * let doc = toFeatureFlagsDocument(spec, initialFlags(spec));
 * doc = withServiceFlags(doc, 'customer', { read: { enabled: true, percentage: 10 }, write: { enabled: true, mode: 'shadow' } });
 * const version = await port.createVersion(doc, 'customer: read 10 %');
 * const deployment = await port.startDeployment(version, 'gradual');
 */

export const WRITE_MODES = ['legacy', 'shadow', 'primary'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** The flags of one service, as the rollout, the rollback and the router see them. */
export interface ServiceFlags {
  readonly read: { readonly enabled: boolean; readonly percentage: number };
  readonly write: { readonly enabled: boolean; readonly mode: WriteMode };
}

/** Flags of every service of a migration, by service name. */
export type FlagState = Readonly<Record<string, ServiceFlags>>;

/** What a rollout starts from and what a rollback without history falls back to. */
export const INITIAL_SERVICE_FLAGS: ServiceFlags = Object.freeze({
  read: Object.freeze({ enabled: false, percentage: 0 }),
  write: Object.freeze({ enabled: false, mode: 'legacy' as const }),
});

export const readFlagName = (service: string): string => `${service}_read`;
export const writeFlagName = (service: string): string => `${service}_write`;

/** The attribute constraints AppConfig enforces (and the console shows). */
export const PERCENTAGE_CONSTRAINTS = { type: 'number', minimum: 0, maximum: 100, required: true } as const;
export const MODE_CONSTRAINTS = { type: 'string', enum: [...WRITE_MODES], required: true } as const;

interface AttributeDefinition {
  readonly constraints: Readonly<Record<string, unknown>>;
  readonly description?: string;
}

interface FlagDefinition {
  readonly name: string;
  readonly description?: string;
  readonly attributes: Readonly<Record<string, AttributeDefinition>>;
}

/** The JSON document AppConfig stores for an `AWS.AppConfig.FeatureFlags` profile. */
export interface FeatureFlagsDocument {
  readonly version: '1';
  readonly flags: Readonly<Record<string, FlagDefinition>>;
  readonly values: Readonly<
    Record<string, Readonly<Record<string, unknown>> & { readonly enabled: boolean }>
  >;
}

/** A flag document or flag value that breaks the model. `problems` names each bad path. */
export class FlagError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: { cause?: unknown }) {
    super(`invalid flags: ${problems.join('; ')}`, options);
    this.name = 'FlagError';
    this.problems = problems;
  }
}

/** The service list of a migration spec; only the names matter here. */
export interface FlagServices {
  readonly services: ReadonlyArray<{ readonly name: string }>;
}

/** Every service at 0 % / `legacy`, disabled. */
export function initialFlags(spec: FlagServices): FlagState {
  return Object.fromEntries(spec.services.map((s) => [s.name, INITIAL_SERVICE_FLAGS]));
}

/** Problems with one service's flags (empty when valid). */
export function serviceFlagProblems(flags: ServiceFlags, at = 'flags'): string[] {
  const problems: string[] = [];
  const p = flags?.read?.percentage;
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) {
    problems.push(`${at}.read.percentage must be a number from 0 to 100`);
  }
  if (typeof flags?.read?.enabled !== 'boolean') problems.push(`${at}.read.enabled must be a boolean`);
  if (!WRITE_MODES.includes(flags?.write?.mode)) {
    problems.push(`${at}.write.mode must be one of ${WRITE_MODES.join(', ')}`);
  }
  if (typeof flags?.write?.enabled !== 'boolean') problems.push(`${at}.write.enabled must be a boolean`);
  return problems;
}

/**
 * The AppConfig document for a flag state: one read and one write flag per spec service,
 * with constraints. Services missing from `state` get {@link INITIAL_SERVICE_FLAGS}.
 * @throws FlagError when a value breaks the constraints or names an unknown service
 */
export function toFeatureFlagsDocument(spec: FlagServices, state: FlagState): FeatureFlagsDocument {
  const known = new Set(spec.services.map((s) => s.name));
  const problems = Object.keys(state)
    .filter((s) => !known.has(s))
    .map((s) => `unknown service "${s}"`);
  const flags: Record<string, FlagDefinition> = {};
  const values: Record<string, Record<string, unknown> & { enabled: boolean }> = {};
  for (const service of spec.services) {
    const f = state[service.name] ?? INITIAL_SERVICE_FLAGS;
    problems.push(...serviceFlagProblems(f, service.name));
    // Only the name: the document must not change when a description is edited, because a new
    // initial version is redeployed by CloudFormation (see docs/infrastructure.md, Flags).
    const label = service.name;
    flags[readFlagName(service.name)] = {
      name: readFlagName(service.name),
      description: `${label}: share of users whose reads go to the new service`,
      attributes: {
        percentage: { constraints: { ...PERCENTAGE_CONSTRAINTS }, description: '0 to 100' },
      },
    };
    flags[writeFlagName(service.name)] = {
      name: writeFlagName(service.name),
      description: `${label}: where writes go (legacy, shadow, primary)`,
      attributes: {
        mode: {
          constraints: { ...MODE_CONSTRAINTS, enum: [...WRITE_MODES] },
          description: WRITE_MODES.join(' | '),
        },
      },
    };
    values[readFlagName(service.name)] = { enabled: f.read.enabled, percentage: f.read.percentage };
    values[writeFlagName(service.name)] = { enabled: f.write.enabled, mode: f.write.mode };
  }
  if (problems.length) throw new FlagError(problems);
  return { version: '1', flags, values };
}

function services(doc: FeatureFlagsDocument): string[] {
  return Object.keys(doc.flags)
    .filter((n) => n.endsWith('_read'))
    .map((n) => n.slice(0, -'_read'.length));
}

/**
 * Validates a document as AppConfig stores it (JSON text or parsed) against the model: every
 * service has both flags with their constrained attributes, and every value is in range.
 * @throws FlagError naming each bad path
 */
export function parseFeatureFlagsDocument(input: unknown): FeatureFlagsDocument {
  let doc = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw new FlagError(['document is not JSON'], { cause });
    }
  }
  const d = doc as Partial<FeatureFlagsDocument> | null;
  if (!d || typeof d !== 'object') throw new FlagError(['document must be an object']);
  const problems: string[] = [];
  if (d.version !== '1') problems.push('version must be "1"');
  if (!d.flags || typeof d.flags !== 'object') problems.push('flags must be an object');
  if (!d.values || typeof d.values !== 'object') problems.push('values must be an object');
  if (problems.length) throw new FlagError(problems);
  const full = d as FeatureFlagsDocument;
  for (const name of Object.keys(full.flags)) {
    const m = /^(.+)_(read|write)$/.exec(name);
    if (!m) {
      problems.push(`flags.${name} is not a <service>_read or <service>_write flag`);
      continue;
    }
    const twin = m[2] === 'read' ? writeFlagName(m[1]!) : readFlagName(m[1]!);
    if (!(twin in full.flags)) problems.push(`flags.${twin} is missing`);
    const attribute = m[2] === 'read' ? 'percentage' : 'mode';
    if (!full.flags[name]?.attributes?.[attribute]?.constraints) {
      problems.push(`flags.${name}.attributes.${attribute}.constraints is missing`);
    }
    if (!full.values[name]) problems.push(`values.${name} is missing`);
  }
  for (const name of Object.keys(full.values)) {
    if (!(name in full.flags)) problems.push(`values.${name} has no flag definition`);
  }
  if (problems.length) throw new FlagError(problems);
  for (const service of services(full)) {
    problems.push(
      ...serviceFlagsFromValues(
        full.values[readFlagName(service)],
        full.values[writeFlagName(service)],
        `values[${service}]`,
      ).problems,
    );
  }
  if (problems.length) throw new FlagError(problems);
  return full;
}

function readServiceFlags(doc: FeatureFlagsDocument, service: string): ServiceFlags {
  const { flags } = serviceFlagsFromValues(
    doc.values[readFlagName(service)],
    doc.values[writeFlagName(service)],
    `values[${service}]`,
  );
  return flags;
}

/**
 * One service's flags from its two flag values, in either form AppConfig uses: the stored
 * document's `values` entries and the retrieved form AppConfig Data serves. Both carry
 * `enabled`; an enabled flag carries its attribute (`percentage`, `mode`), a disabled one may
 * not: AppConfig serves a disabled flag as `{ "enabled": false }` only
 * (test/contracts/appconfig/feature-flags-retrieved.json), and a value saved while the flag is
 * off need not hold the attribute. A disabled flag means 0 % / `legacy` whatever it carries, so
 * its attribute is kept only when it is valid and otherwise defaults to 0 % / `legacy`; it is
 * never a reason to reject the document (that would make the kill switch fail). A missing value
 * is the initial state (disabled, 0 % / `legacy`).
 *
 * @param at prefix of the paths named in problems
 * @returns the flags, and the problems of the enabled flags (empty when valid)
 */
export function serviceFlagsFromValues(
  read: unknown,
  write: unknown,
  at = 'flags',
): { flags: ServiceFlags; problems: string[] } {
  const problems: string[] = [];
  const r = flagValue(read, `${at}.read`, problems);
  const w = flagValue(write, `${at}.write`, problems);
  const p = r?.['percentage'];
  const validPercentage = typeof p === 'number' && Number.isFinite(p) && p >= 0 && p <= 100;
  const m = w?.['mode'];
  const validMode = WRITE_MODES.includes(m as WriteMode);
  const readEnabled = r?.['enabled'] === true;
  const writeEnabled = w?.['enabled'] === true;
  if (readEnabled && !validPercentage) problems.push(`${at}.read.percentage must be a number from 0 to 100`);
  if (writeEnabled && !validMode) problems.push(`${at}.write.mode must be one of ${WRITE_MODES.join(', ')}`);
  return {
    flags: {
      read: { enabled: readEnabled, percentage: validPercentage ? (p as number) : 0 },
      write: { enabled: writeEnabled, mode: validMode ? (m as WriteMode) : 'legacy' },
    },
    problems,
  };
}

function flagValue(
  value: unknown,
  at: string,
  problems: string[],
): Readonly<Record<string, unknown>> | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${at} must be an object with "enabled"`);
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (typeof v['enabled'] !== 'boolean') {
    problems.push(`${at}.enabled must be a boolean`);
    return undefined;
  }
  return v;
}

/** One service's flags in a document. @throws FlagError when the service has no flags */
export function serviceFlagsOf(doc: FeatureFlagsDocument, service: string): ServiceFlags {
  if (!(readFlagName(service) in doc.flags)) throw new FlagError([`no flags for service "${service}"`]);
  return readServiceFlags(doc, service);
}

/** All services' flags in a document. */
export function flagStateOf(doc: FeatureFlagsDocument): FlagState {
  return Object.fromEntries(services(doc).map((s) => [s, readServiceFlags(doc, s)]));
}

/**
 * A copy of `doc` in which only `service`'s two values are replaced; every other flag,
 * definition and value is kept as it is.
 * @throws FlagError for an unknown service or an invalid value
 */
export function withServiceFlags(
  doc: FeatureFlagsDocument,
  service: string,
  flags: ServiceFlags,
): FeatureFlagsDocument {
  if (!(readFlagName(service) in doc.flags)) throw new FlagError([`no flags for service "${service}"`]);
  const problems = serviceFlagProblems(flags, service);
  if (problems.length) throw new FlagError(problems);
  return {
    ...doc,
    values: {
      ...doc.values,
      [readFlagName(service)]: {
        ...doc.values[readFlagName(service)],
        enabled: flags.read.enabled,
        percentage: flags.read.percentage,
      },
      [writeFlagName(service)]: {
        ...doc.values[writeFlagName(service)],
        enabled: flags.write.enabled,
        mode: flags.write.mode,
      },
    },
  };
}

/** What the router and the sync act on: a disabled flag means 0 % / `legacy`. */
export function effectiveFlags(flags: ServiceFlags): { readPercentage: number; writeMode: WriteMode } {
  return {
    readPercentage: flags.read.enabled ? flags.read.percentage : 0,
    writeMode: flags.write.enabled ? flags.write.mode : 'legacy',
  };
}

/** Whether two flag values are identical (switches and attributes, not only their effect). */
export function sameFlags(a: ServiceFlags, b: ServiceFlags): boolean {
  return (
    a.read.enabled === b.read.enabled &&
    a.read.percentage === b.read.percentage &&
    a.write.enabled === b.write.enabled &&
    a.write.mode === b.write.mode
  );
}

/** Whether two flag values behave the same (compares the effective values). */
export function sameEffectiveFlags(a: ServiceFlags, b: ServiceFlags): boolean {
  const x = effectiveFlags(a);
  const y = effectiveFlags(b);
  return x.readPercentage === y.readPercentage && x.writeMode === y.writeMode;
}

// ---------------------------------------------------------------------------------------------
// The port: AppConfig hosted configuration versions and deployments of one environment/profile.
// ---------------------------------------------------------------------------------------------

/** AppConfig deployment states (`REVERTED` is a completed deployment that was later undone). */
export type DeploymentState =
  | 'BAKING'
  | 'VALIDATING'
  | 'DEPLOYING'
  | 'COMPLETE'
  | 'ROLLING_BACK'
  | 'ROLLED_BACK'
  | 'REVERTED';

/** States in which AppConfig refuses to start another deployment to the environment. */
export const IN_PROGRESS_STATES: ReadonlySet<DeploymentState> = new Set([
  'BAKING',
  'VALIDATING',
  'DEPLOYING',
  'ROLLING_BACK',
]);

/**
 * The two deployment strategies the stack creates: `gradual` (rollouts: grows over minutes,
 * then bakes while the environment monitors watch the alarms) and `rollback` (all at once,
 * zero bake). `other` is any strategy created by hand.
 */
export type StrategyKind = 'gradual' | 'rollback';

export interface FlagDeployment {
  /** AppConfig deployment number, as a string. */
  readonly id: string;
  /** Hosted configuration version deployed. */
  readonly version: number;
  readonly state: DeploymentState;
  readonly strategy: StrategyKind | 'other';
  readonly description?: string;
  /** ISO-8601. */
  readonly startedAt: string;
  readonly completedAt?: string;
}

/**
 * AppConfig as the rollout (issue 5) and the rollback Lambda use it: one application,
 * environment and FeatureFlags profile, fixed when the adapter is built.
 */
export interface FlagDeploymentPort {
  /** The newest hosted configuration version (it may not be deployed yet). */
  latestVersion(): Promise<{ version: number; document: FeatureFlagsDocument }>;
  /** The document of one hosted configuration version. */
  getVersion(version: number): Promise<FeatureFlagsDocument>;
  /** Stores a new hosted configuration version; returns its version number. */
  createVersion(document: FeatureFlagsDocument, description?: string): Promise<number>;
  /**
   * Starts deploying a version with the gradual or the rollback strategy; returns the
   * deployment id. Rejects while another deployment is in progress (as AppConfig does).
   */
  startDeployment(version: number, strategy: StrategyKind, description?: string): Promise<string>;
  getDeployment(id: string): Promise<FlagDeployment>;
  /**
   * Stops a deployment in progress. AppConfig then rolls it back: the deployment passes through
   * `ROLLING_BACK` and reaches `ROLLED_BACK` some time later, and until then no other deployment
   * can start on the environment.
   */
  stopDeployment(id: string): Promise<void>;
  /** The deployment in progress on the environment, if any. */
  activeDeployment(): Promise<FlagDeployment | undefined>;
  /** The newest deployments to the environment, newest first (one page, at most `limit`). */
  listDeployments(limit?: number): Promise<FlagDeployment[]>;
  /**
   * Every deployment to the environment, newest first, read page by page as the caller iterates
   * (AppConfig ListDeployments with NextToken), so a caller that stops early reads no more.
   */
  deploymentHistory(): AsyncIterable<FlagDeployment>;
}

/** Alias used by the handlers' wiring. */
export type AppConfigPort = FlagDeploymentPort;

/**
 * The flag document in effect now: the newest `COMPLETE` deployment's version, or the
 * newest hosted version when nothing was deployed yet.
 */
export async function deployedDocument(
  port: FlagDeploymentPort,
): Promise<{ version: number; document: FeatureFlagsDocument }> {
  // However many deployments were stopped or rolled back since: the history is read until one.
  for await (const d of port.deploymentHistory()) {
    if (d.state === 'COMPLETE') return { version: d.version, document: await port.getVersion(d.version) };
  }
  return port.latestVersion();
}
