/**
 * Per-environment settings, from `cdk.json` context `environments.<env>` (and overridable with
 * `-c environments=...`). One place for what differs between environments: any name listed
 * there is an environment (the bundled cdk.json has dev, staging and prod), each with its own
 * account and region.
 */
import { readFileSync } from 'node:fs';
import type { DatabaseNetwork } from '../constructs/legacy-database-access.js';
import type { NotificationSettings } from '../constructs/operator-notifications.js';

/**
 * An environment name: it becomes part of stack, table, queue and alarm names
 * (`cutover-<env>-platform`), so it is kept to what every one of those accepts.
 */
const ENV_NAME = /^[a-z][a-z0-9]{0,11}$/;

/** A wrong environment name or setting in cdk.json (or `-c`): the message names it. */
export class EnvironmentSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentSettingsError';
  }
}

export interface EnvironmentSettings {
  /** Deploy to this account/region; absent: the stacks are environment-agnostic. */
  readonly account?: string;
  readonly region?: string;
  readonly logRetentionDays: number;
  readonly archiveRetentionDays: number;
  /**
   * Days the decommission archive (phase 5) is locked (S3 Object Lock, governance) and kept,
   * then expired. It may be the last copy of the legacy data.
   * @default 2557 (7 years)
   */
  readonly decommissionArchiveDays: number;
  /** Create a VPC for the functions that reach Magento (dev only: others name the network). */
  readonly createVpc: boolean;
  /** Deletion protection and RETAIN on the tables. @default true for prod */
  readonly protectData?: boolean;
  /** Gradual flag deployments: minutes to reach 100 % and bake minutes. @default 2 / 10 */
  readonly flagDeploymentMinutes?: number;
  readonly flagBakeMinutes?: number;
  /** Consistency check schedule (minutes). @default 15 */
  readonly consistencyCheckMinutes?: number;
  /** Legacy database network per migration (overrides the spec's `legacy.network`). */
  readonly networks?: Readonly<Record<string, DatabaseNetwork>>;
  /**
   * Notify people (approvals waiting, rollbacks, parked conflicts, failed rollouts, DLQ alarms)
   * on an SNS topic `cutover-<env>-notifications`; `emails` are subscribed. @default - no topic
   */
  readonly notifications?: NotificationSettings;
  /**
   * Encrypt the queues, tables, bus (and its archive) and log groups of every stack of the
   * environment with a customer-managed KMS key of that stack (lib/constructs/encryption.ts
   * `dataEncryptionKey`) instead of the AWS-managed/owned keys (SQS-managed queues, AWS-managed
   * tables, an AWS-owned bus key) and the stack's log key.
   * @default false
   */
  readonly customerManagedKeys?: boolean;
  /** Stream ARNs of service tables imported by name (`target.tableName`), by table name. */
  readonly importedStreamArns?: Readonly<Record<string, string>>;
}

/** The decommission archive's lock and retention when an environment does not set it (7 years). */
export const DEFAULT_DECOMMISSION_ARCHIVE_DAYS = 2557;

/** Retention periods CloudWatch Logs accepts (days). */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const CDK_JSON = new URL('../../cdk.json', import.meta.url);

/** The `context` block of cdk.json (used when the app runs outside the CDK CLI, e.g. `npm start`). */
export function cdkJsonContext(): Record<string, unknown> {
  const json = JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> };
  return json.context ?? {};
}

/**
 * The settings of one environment: any environment named in `context.environments`.
 * @throws EnvironmentSettingsError naming the env when it is unknown, badly named or incomplete
 */
export function environmentSettings(environments: unknown, env: string): EnvironmentSettings {
  const all = (environments ?? {}) as Record<string, Partial<EnvironmentSettings>>;
  const s = Object.hasOwn(all, env) ? all[env] : undefined;
  if (!s) {
    const known = Object.keys(all);
    throw new EnvironmentSettingsError(
      `Unknown environment "${env}": cdk.json context.environments names ${known.length ? known.join(', ') : 'none'}; add "${env}" there or use -c env=${known.join('|') || '<name>'}`,
    );
  }
  if (!ENV_NAME.test(env)) {
    throw new EnvironmentSettingsError(
      `Environment name "${env}" cannot be used in resource names: use 1-12 lower-case letters or digits, starting with a letter`,
    );
  }
  for (const key of ['logRetentionDays', 'archiveRetentionDays', 'decommissionArchiveDays'] as const) {
    if (key === 'decommissionArchiveDays' && s[key] === undefined) continue;
    if (typeof s[key] !== 'number' || s[key]! < 1) {
      throw new EnvironmentSettingsError(`context.environments.${env}.${key} must be a positive number`);
    }
  }
  for (const key of ['account', 'region'] as const) {
    if (s[key] !== undefined && (typeof s[key] !== 'string' || s[key] === '')) {
      throw new EnvironmentSettingsError(`context.environments.${env}.${key} must be a non-empty string`);
    }
  }
  if (s.notifications !== undefined) {
    const n = s.notifications as { emails?: unknown };
    if (typeof n !== 'object' || n === null || Array.isArray(n)) {
      throw new EnvironmentSettingsError(
        `context.environments.${env}.notifications must be an object ({ "emails": [...] })`,
      );
    }
    const emails = n.emails ?? [];
    if (
      !Array.isArray(emails) ||
      emails.some((e) => typeof e !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))
    ) {
      throw new EnvironmentSettingsError(
        `context.environments.${env}.notifications.emails must be a list of email addresses`,
      );
    }
  }
  for (const key of ['customerManagedKeys'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'boolean') {
      throw new EnvironmentSettingsError(`context.environments.${env}.${key} must be true or false`);
    }
  }
  if (!LOG_RETENTION_DAYS.includes(s.logRetentionDays!)) {
    throw new EnvironmentSettingsError(
      `context.environments.${env}.logRetentionDays must be one of CloudWatch's values: ${LOG_RETENTION_DAYS.join(', ')}`,
    );
  }
  return {
    createVpc: false,
    decommissionArchiveDays: DEFAULT_DECOMMISSION_ARCHIVE_DAYS,
    ...s,
    protectData: s.protectData ?? env === 'prod',
  } as EnvironmentSettings;
}
