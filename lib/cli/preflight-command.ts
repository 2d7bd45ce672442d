/**
 * `cutover preflight`: registered on the `cutover` program (bin/cutover.ts). Read-only.
 *
 *   npx cutover preflight --migration magento --database-url mysql://user:pass@host:3306/magento
 *   npx cutover preflight --migration magento --env prod --secret magento-db-creds --json
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Command } from 'commander';
import { formatReport, MysqlFactsReader, type PreflightReport, runPreflight } from '../preflight/index.js';
import { serviceFindings } from '../preflight/service-side.js';
import type { MigrationSpec } from '../spec/schema.js';

/** A preflight that cannot start (unknown migration, no database, unreadable secret). */
export class PreflightUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightUsageError';
  }
}

export interface PreflightCommandOptions {
  readonly migration: string;
  readonly env: string;
  readonly databaseUrl?: string;
  readonly secret?: string;
  readonly dynamoEndpoint?: string;
  readonly json?: boolean;
  readonly debezium?: boolean;
  /** The DynamoDB client for `dynamoEndpoint`. @default - one for that endpoint, region from AWS_REGION */
  readonly dynamo?: DynamoDBClient;
}

/** Builds a `mysql://` URL from a Secrets Manager secret (host, port, username, password, dbname). */
export async function databaseUrlFromSecret(
  secretId: string,
  client = new SecretsManagerClient({}),
): Promise<string> {
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (e) {
    throw new PreflightUsageError(
      `cannot read secret "${secretId}" from Secrets Manager (${(e as Error).name}: ${(e as Error).message}); check AWS credentials and region, or pass --database-url`,
    );
  }
  const s = JSON.parse(text ?? '{}') as Record<string, unknown>;
  for (const k of ['host', 'username', 'password', 'dbname']) {
    if (typeof s[k] !== 'string') throw new PreflightUsageError(`secret "${secretId}" has no string "${k}"`);
  }
  const u = new URL('mysql://localhost');
  u.hostname = String(s['host']);
  u.port = String(s['port'] ?? 3306);
  u.username = encodeURIComponent(String(s['username']));
  u.password = encodeURIComponent(String(s['password']));
  u.pathname = `/${String(s['dbname'])}`;
  return u.toString();
}

function dynamoFor(endpoint: string): DynamoDBClient {
  const region = process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
  if (!region) throw new PreflightUsageError('--dynamo-endpoint needs a region: set AWS_REGION');
  return new DynamoDBClient({ endpoint, region });
}

/** Runs preflight for one migration; prints the report; returns it (exit code 1 on any fail). */
export async function preflight(
  specs: readonly MigrationSpec[],
  o: PreflightCommandOptions,
  print: (text: string) => void = (t) => process.stdout.write(`${t}\n`),
): Promise<PreflightReport> {
  const spec = specs.find((s) => s.name === o.migration);
  if (!spec) {
    throw new PreflightUsageError(
      `unknown migration "${o.migration}": the specs are ${specs.map((s) => s.name).join(', ')}`,
    );
  }
  if (spec.legacy.kind !== 'mysql') {
    throw new PreflightUsageError(
      `migration "${spec.name}" has an ${spec.legacy.kind} legacy side: preflight checks MySQL databases`,
    );
  }
  if (!!o.databaseUrl === !!o.secret)
    throw new PreflightUsageError('give exactly one of --database-url and --secret');
  const url = o.databaseUrl ?? (await databaseUrlFromSecret(o.secret!));
  const reader = await MysqlFactsReader.connect(url);
  try {
    const extra = o.dynamoEndpoint
      ? await serviceFindings(o.dynamo ?? dynamoFor(o.dynamoEndpoint), spec, o.env)
      : [];
    const report = await runPreflight(spec, reader, { debezium: o.debezium ?? false }, extra);
    print(o.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report;
  } finally {
    await reader.close();
  }
}

/** Adds `preflight` to the program. `loadSpecs` is called only when the command runs. */
export function registerPreflightCommand(
  program: Command,
  loadSpecs: () => Promise<readonly MigrationSpec[]>,
): void {
  program
    .command('preflight')
    .description(
      "read-only checks of a migration's legacy database (and service tables) against its spec: a pass/warn/fail line per check, exit 1 on any fail",
    )
    .requiredOption('--migration <name>', 'the migration (spec name)')
    .option('--env <env>', 'the environment (names the service tables)', 'dev')
    .option('--database-url <url>', 'mysql://user:password@host:port/database')
    .option('--secret <name>', 'Secrets Manager secret with host, port, username, password, dbname')
    .option('--dynamo-endpoint <url>', 'check the service tables on this DynamoDB endpoint')
    .option('--debezium', 'capture by Debezium: binlog settings and replication privileges must pass')
    .option('--json', 'print the report as JSON')
    .action(async (o: PreflightCommandOptions) => {
      try {
        const report = await preflight(await loadSpecs(), o);
        process.exitCode = report.exitCode;
      } catch (e) {
        if (!(e instanceof PreflightUsageError)) throw e;
        process.stderr.write(`cutover preflight: ${e.message}\n`);
        process.exitCode = 2;
      }
    });
}
