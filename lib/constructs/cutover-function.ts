import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BUNDLED_SPEC_DEFINE } from '../../lambdas/handlers/bundled-spec.js';
import { METRICS_NAMESPACE, RUNTIME_ENV } from '../spec/runtime.js';
import type { MigrationSpec } from '../spec/schema.js';
import { acknowledgeControl, logEncryptionKey } from './encryption.js';

/**
 * A handler file in `lambdas/handlers/`, by name without extension: `forward-sync`,
 * `reverse-sync`, `legacy-poller`, `debezium-ingest`, `consistency-check`, `service-capture`,
 * `rollback`, `flags-validator`, the rollout tasks (`rollout-*`), ...
 */
export type HandlerName = string;

/**
 * Template metadata key naming a function's handler entry (`lambdas/handlers/<name>.ts`): the
 * bundle's asset hash cannot be traced back to its source, and the rehearsal (lib/rehearse)
 * runs each function from its entry.
 */
export const HANDLER_METADATA = 'cutover:handler';

/** Absolute path of a handler entry file. */
export function handlerEntry(name: HandlerName): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new Error(`handler name "${name}" must be a file name in lambdas/handlers`);
  const path = fileURLToPath(new URL(`../../lambdas/handlers/${name}.ts`, import.meta.url));
  if (!existsSync(path)) throw new Error(`no handler lambdas/handlers/${name}.ts`);
  return path;
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * What a handler bundle is built from: the handlers' sources and the locked dependencies. Not the
 * migrations' sources: a function gets its spec as JSON (`define`), which the hash covers, so a
 * change to one spec rebuilds only that migration's functions (the dependency test keeps
 * lambdas/ from importing migrations/).
 */
const BUNDLE_INPUTS = ['lambdas', 'lib/spec', 'package-lock.json', 'tsconfig.json'];
let sourceDigest: string | undefined;

function digestOf(path: string, hash: ReturnType<typeof createHash>): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) digestOf(join(path, name), hash);
  } else {
    hash.update(relative(PROJECT_ROOT, path)).update('\0').update(readFileSync(path)).update('\0');
  }
}

/**
 * A content hash of a handler's bundle inputs. Used as the asset hash, so the bundle of an
 * unchanged handler is reused from `cdk.out` across synthesis runs and environments instead of
 * being rebuilt (esbuild's output is deterministic for the same inputs).
 */
export function bundleHash(handler: HandlerName, options: unknown): string {
  if (!sourceDigest) {
    const h = createHash('sha256');
    for (const input of BUNDLE_INPUTS) digestOf(join(PROJECT_ROOT, input), h);
    sourceDigest = h.digest('hex');
  }
  return createHash('sha256')
    .update(sourceDigest)
    .update(handler)
    .update(JSON.stringify(options))
    .digest('hex');
}

/** Node's `require` inside an ESM bundle, for CommonJS dependencies that call it. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * Node built-ins a bundle loads with `process.getBuiltinModule` instead of an ESM `import`.
 * Importing a built-in from ESM builds a module facade that reads every export once, lazy getters
 * included: `node:http`'s `WebSocket`, `CloseEvent` and `MessageEvent` getters then load Node's
 * bundled undici (~30 ms of CPU at module init, measured here; the AWS SDK sends its requests
 * with `https.request`, never through undici), `node:util`'s and `node:fs`'s getters ~4-5 ms
 * each. esbuild keeps an ES module's `import` of a built-in (the AWS SDK's `dist-es`) as an ESM
 * import, so each of these is aliased to a one-line CommonJS module,
 * `lambdas/node-builtins/<name>.cjs`: `module.exports = process.getBuiltinModule('node:<name>')`
 * (the same object, without the facade). `fs/promises` is listed because the alias of `fs` would
 * otherwise also catch it.
 */
export const NODE_BUILTINS_WITHOUT_FACADE = ['http', 'https', 'util', 'fs', 'fs/promises'] as const;

/** esbuild `--alias` values for {@link NODE_BUILTINS_WITHOUT_FACADE}, relative to the project root. */
const BUILTIN_ALIASES: readonly string[] = NODE_BUILTINS_WITHOUT_FACADE.flatMap((m) => {
  const shim = `./lambdas/node-builtins/${m.replace('/', '-')}.cjs`;
  return [`${m}=${shim}`, `node:${m}=${shim}`];
});

/**
 * The AWS SDK's default credential chain, aliased to its first link, the environment variables
 * (`lambdas/bundle-shims/credential-provider-node.mjs`): Lambda always sets them from the
 * execution role, so the chain's other links (SSO, ini files, process, web identity, IMDS, with
 * the STS and SSO clients they carry) never run in a function, yet bundled they were
 * 108–133 KiB of every bundle, parsed at every cold start (11–17 ms of module init).
 */
const CREDENTIALS_ENV_ONLY =
  '@aws-sdk/credential-provider-node=./lambdas/bundle-shims/credential-provider-node.mjs';

/** Where the bundles' prepared packages are put ({@link preparedPackage}), relative to the project root. */
const BUNDLING_MODULES = '.cutover/bundling/node_modules';

/**
 * A copy of an installed package with some files changed, for the bundles to take instead of the
 * installed one (aliased in {@link BUNDLING}: esbuild's `--alias` cannot replace a file a package
 * requires by a relative path, hence a copy). The copy's own imports resolve from the project's
 * `node_modules`, as the installed package's do.
 */
interface PreparedPackage {
  /** The npm package, e.g. `mysql2`. */
  readonly name: string;
  /** The entries of the package copied (default: all of it). */
  readonly entries?: readonly string[];
  /** How {@link change} changes the copy, with anything else it reads: part of the stamp. */
  readonly stamp: readonly (string | Buffer)[];
  /** Changes the copy (`copy`), given the installed package (`installed`). */
  readonly change: (copy: string, installed: string) => void;
}

/**
 * Prepares a {@link PreparedPackage} under `.cutover/bundling/node_modules/<name>` and returns its
 * absolute path. Idempotent (a stamp of the package's `package.json` and its `stamp`) and safe
 * when several processes prepare it at once (each builds its own copy, then renames it in place).
 */
function preparedPackage(p: PreparedPackage): string {
  const installed = join(PROJECT_ROOT, 'node_modules', p.name);
  const target = join(PROJECT_ROOT, BUNDLING_MODULES, p.name);
  const h = createHash('sha256').update(readFileSync(join(installed, 'package.json')));
  for (const part of p.stamp) h.update(part).update('\0');
  const stamp = h.digest('hex');
  const fresh = () => readIfExists(join(target, '.cutover-stamp')) === stamp;
  if (fresh()) return target;
  const tmp = `${target}.${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  for (const entry of p.entries ?? [''])
    cpSync(join(installed, entry), join(tmp, entry), { recursive: true });
  p.change(tmp, installed);
  writeFileSync(join(tmp, '.cutover-stamp'), stamp);
  for (let attempt = 0; ; attempt++) {
    try {
      renameSync(tmp, target);
      return target;
    } catch (e) {
      // Another process put its copy in place meanwhile (or a stale one is there).
      if (fresh()) {
        rmSync(tmp, { recursive: true, force: true });
        return target;
      }
      if (attempt > 2) throw e;
      const stale = `${target}.stale-${process.pid}-${attempt}`;
      if (existsSync(target)) renameSync(target, stale);
      rmSync(stale, { recursive: true, force: true });
    }
  }
}

/** The lazy error-code table put in place of mysql2's `lib/constants/errors.js`. */
const MYSQL2_ERRORS_SHIM = 'lambdas/bundle-shims/mysql2-errors.cjs';

/**
 * Prepares the mysql2 the bundles take (aliased in {@link BUNDLING}): the installed package,
 * copied under `.cutover/bundling/node_modules/mysql2`, with one file changed. Its error-code
 * table (`lib/constants/errors.js`, ~4,000 statements) is evaluated on first use instead of when
 * mysql2 loads ({@link MYSQL2_ERRORS_SHIM}; the table, built from mysql2's own, is
 * `errors-table.js`): it names server errors only, and evaluating it was ~7 ms of every MySQL
 * function's cold start. Returns its absolute path ({@link preparedPackage}).
 */
export function leanMysql2(): string {
  const shim = readFileSync(join(PROJECT_ROOT, MYSQL2_ERRORS_SHIM));
  return preparedPackage({
    name: 'mysql2',
    stamp: [shim, 'errors.js lazy; errors-table.js as one JSON string'],
    change: (copy, installed) => {
      const constants = join(copy, 'lib', 'constants');
      // The table as one JSON string: scanning a string literal is cheaper than pre-parsing
      // ~4,000 statements (~3 ms), and it is built from mysql2's own table, so it names what
      // mysql2 names.
      const table = createRequire(import.meta.url)(join(installed, 'lib', 'constants', 'errors.js'));
      writeFileSync(
        join(constants, 'errors-table.js'),
        `'use strict';\n// mysql2's lib/constants/errors.js as data (leanMysql2, lib/constructs/cutover-function.ts).\nmodule.exports = Object.fromEntries(JSON.parse(${JSON.stringify(JSON.stringify(Object.entries(table)))}));\n`,
      );
      writeFileSync(join(constants, 'errors.js'), shim);
    },
  });
}

/** The S3 client's schema module, in its ES build (what the bundles take). */
export const S3_SCHEMAS_MODULE = 'dist-es/schemas/schemas_0.js';

/**
 * A schema module of an AWS SDK client (`dist-es/schemas/schemas_0.js`) with every computed
 * property key over one of its module-level string constants written as that string:
 * `{ [_hH]: _xaa }` becomes `{ "httpHeader": _xaa }`, the same object. esbuild drops an unused
 * declaration only if evaluating it can have no side effect, and it counts a computed key as
 * one (it might call `toString`); with the keys literal, the schemas no command of the bundle
 * uses are dropped like any other unused constant. `__proto__` is left computed (as a literal
 * key it would set the prototype).
 */
export function literalSchemaKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const m of source.matchAll(/^const ([A-Za-z_$][\w$]*) = ("[^"\\\n]*");$/gm)) {
    if (m[2] !== '"__proto__"') constants.set(m[1]!, m[2]!);
  }
  return source.replace(/\[([A-Za-z_$][\w$]*)\]:/g, (key, name: string) => {
    const literal = constants.get(name);
    return literal === undefined ? key : `${literal}:`;
  });
}

/**
 * Prepares the S3 client the bundles take (aliased in {@link BUNDLING}): the installed
 * `@aws-sdk/client-s3`'s ES build (`package.json`, `dist-es`), copied under
 * `.cutover/bundling/node_modules/@aws-sdk/client-s3`, with its schema module's keys made literal
 * ({@link literalSchemaKeys}). Its schemas (~485, one per shape of every S3 operation) were all
 * bundled, ~69 KiB of module-level code V8 compiles at every cold start, for the three commands
 * the functions send; with the keys literal, esbuild keeps only those the bundle's commands and
 * errors reach. Returns its absolute path ({@link preparedPackage}).
 */
export function leanS3Client(): string {
  return preparedPackage({
    name: '@aws-sdk/client-s3',
    entries: ['package.json', 'dist-es'],
    // The transform's own code, so that a change to it prepares the copy again.
    stamp: [literalSchemaKeys.toString()],
    change: (copy) => {
      const schemas = join(copy, S3_SCHEMAS_MODULE);
      writeFileSync(schemas, literalSchemaKeys(readFileSync(schemas, 'utf8')));
    },
  });
}

let packagesPrepared = false;

/**
 * Prepares the packages {@link BUNDLING} aliases to a prepared copy: {@link leanMysql2},
 * {@link leanS3Client}. Once per process: every function of a synthesis calls it, and each
 * check hashes the installed package and reads the copy's stamp.
 */
export function prepareBundledPackages(): void {
  if (packagesPrepared) return;
  leanMysql2();
  leanS3Client();
  packagesPrepared = true;
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * How every handler is bundled (aws-lambda-nodejs runs the local esbuild with these). Exported
 * for the bench and the bundle-budget test, which build with {@link esbuildOptions}.
 */
export const BUNDLING = {
  format: nodejs.OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // The AWS SDK v3 clients are bundled (their ES modules, tree-shaken: only the commands a
  // function sends), not taken from the nodejs24.x runtime: the runtime's copy is CommonJS, one
  // file per client with every command, resolved and compiled at each cold start; bundled, module
  // init was faster in every function measured (BENCHMARKS.md, section bundles; the decision in
  // docs/infrastructure.md, "Function bundles"). Everything else (Powertools, middy, mysql2) is
  // bundled too, except iconv-lite's double-byte code tables (`./tables/*`, ~230 KiB: GBK, Big5,
  // Shift JIS, EUC-JP/KR), which mysql2 loads only to decode a column in such a charset;
  // Magento's are utf8/utf8mb4. Such a column would fail loudly ("Cannot find module
  // './tables/…'"), never decode wrongly.
  externalModules: ['./tables/*'],
  esbuildArgs: {
    '--alias': [
      ...BUILTIN_ALIASES,
      CREDENTIALS_ENV_ONLY,
      `mysql2=./${BUNDLING_MODULES}/mysql2`,
      `@aws-sdk/client-s3=./${BUNDLING_MODULES}/@aws-sdk/client-s3`,
    ],
  },
  forceDockerBundling: false,
} satisfies nodejs.BundlingOptions;

/**
 * The functions' `NODE_OPTIONS`: none. The bundles carry a source map (`index.mjs.map`, for
 * reading a stack trace offline), but `--enable-source-maps` is not set: it makes Node load and
 * parse the map at module init, on every cold start (BENCHMARKS.md, section bundles). Set
 * `NODE_OPTIONS=--enable-source-maps` on a function while debugging it.
 */
export const FUNCTION_NODE_OPTIONS: string = '';

/**
 * The esbuild build options equivalent to `bundling` as aws-lambda-nodejs passes them to the
 * esbuild CLI (`--bundle --platform=node --target … --format … --main-fields … --banner:js …
 * --minify --sourcemap --sources-content=false --external:… --alias:…`), for building a handler outside a
 * synthesis. The output is `outfile` (`index.mjs` in a function's asset).
 */
export function esbuildOptions(
  entry: string,
  outfile: string,
  bundling: Pick<
    nodejs.BundlingOptions,
    | 'target'
    | 'mainFields'
    | 'banner'
    | 'minify'
    | 'sourceMap'
    | 'sourcesContent'
    | 'externalModules'
    | 'define'
    | 'esbuildArgs'
  > = BUNDLING,
): import('esbuild').BuildOptions {
  prepareBundledPackages();
  const aliases = bundling.esbuildArgs?.['--alias'];
  const alias = Object.fromEntries(
    (Array.isArray(aliases) ? aliases : []).map((a: string) => [
      a.slice(0, a.indexOf('=')),
      a.slice(a.indexOf('=') + 1),
    ]),
  );
  return {
    entryPoints: [entry],
    outfile,
    // aws-lambda-nodejs runs esbuild in the project root, against which aliases resolve.
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: bundling.target,
    mainFields: bundling.mainFields,
    ...(bundling.banner ? { banner: { js: bundling.banner } } : {}),
    minify: bundling.minify ?? false,
    sourcemap: bundling.sourceMap ?? false,
    sourcesContent: bundling.sourcesContent ?? true,
    external: bundling.externalModules ?? ['@aws-sdk/*'],
    ...(bundling.define ? { define: bundling.define } : {}),
    ...(Object.keys(alias).length ? { alias } : {}),
    logLevel: 'warning',
  };
}

/** {@link BUNDLING} for one migration's functions: its validated spec compiled in as JSON. */
export function bundlingFor(spec: MigrationSpec): typeof BUNDLING & { define: Record<string, string> } {
  return { ...BUNDLING, define: { [BUNDLED_SPEC_DEFINE]: JSON.stringify(spec) } };
}

export interface CutoverFunctionProps {
  /** The handler file in `lambdas/handlers/`. */
  readonly handler: HandlerName;
  /** Powertools service name (`POWERTOOLS_SERVICE_NAME`), e.g. `customer`. */
  readonly serviceName: string;
  /**
   * The migration the function acts for: its name is set as `CUTOVER_MIGRATION`, and the
   * validated spec is compiled into the bundle as JSON (lambdas/handlers/bundled-spec.ts).
   */
  readonly spec: MigrationSpec;
  /** Stage, set as `CUTOVER_STAGE`. */
  readonly stage: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default logs.RetentionDays.TWO_WEEKS */
  readonly logRetention?: logs.RetentionDays;
  /** Extra environment variables (use names from `RUNTIME_ENV`). @default - none */
  readonly environment?: Record<string, string>;
  /** Reserved concurrency. @default - none (unreserved) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Run in this VPC (functions that reach the legacy database). A function without one is
   * acknowledged for Control Tower's CT.LAMBDA.PR.3 (see the README's security section).
   * @default - no VPC
   */
  readonly vpc?: ec2.IVpc;
  /** @default - the VPC's private subnets; only with `vpc` */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default - none; only with `vpc` */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** DLQ for failed asynchronous invocations (rule targets). @default - none */
  readonly deadLetterQueue?: sqs.IQueue;
  /** Retries of a failed asynchronous invocation. @default 2 (Lambda's default) */
  readonly retryAttempts?: number;
  /** A description for the console. @default - the handler name */
  readonly description?: string;
}

/**
 * The one Lambda function shape every Cutover handler runs in: an ESM bundle built locally by
 * esbuild (no Docker), arm64, the latest Node.js runtime, X-Ray tracing, JSON logs into a log
 * group with retention, encrypted with the stack's log key, and the Powertools environment. Its role has no managed policy: logs
 * and X-Ray are granted inline, everything else through the constructs' `grant*` methods.
 */
export class CutoverFunction extends nodejs.NodejsFunction {
  /** The function's log group (retention set). */
  readonly functionLogGroup: logs.ILogGroup;
  /** The execution role (inline policies only). */
  override readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: CutoverFunctionProps) {
    if (props.vpcSubnets && !props.vpc) throw new Error(`${id}: vpcSubnets needs vpc`);
    if (props.securityGroups && !props.vpc) throw new Error(`${id}: securityGroups needs vpc`);
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.handler} (${props.spec.name}/${props.serviceName})`,
    });
    const bundling = bundlingFor(props.spec);
    prepareBundledPackages();
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.TWO_WEEKS,
      encryptionKey: logEncryptionKey(scope),
    });
    super(scope, id, {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      description: props.description ?? `cutover ${props.handler}`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: props.retryAttempts,
      vpc: props.vpc,
      vpcSubnets: props.vpc
        ? (props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS })
        : undefined,
      securityGroups: props.securityGroups,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        [RUNTIME_ENV.metricsNamespace]: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        POWERTOOLS_LOGGER_LOG_EVENT: 'false',
        ...(FUNCTION_NODE_OPTIONS ? { NODE_OPTIONS: FUNCTION_NODE_OPTIONS } : {}),
        [RUNTIME_ENV.migration]: props.spec.name,
        [RUNTIME_ENV.stage]: props.stage,
        ...props.environment,
      },
      bundling: {
        ...bundling,
        assetHash: bundleHash(props.handler, bundling),
      },
    });
    this.role = role;
    this.functionLogGroup = logGroup;
    (this.node.defaultChild as lambda.CfnFunction).addMetadata(
      HANDLER_METADATA,
      `lambdas/handlers/${props.handler}.ts`,
    );
    // Explicit and resource-scoped, instead of AWSLambdaBasicExecutionRole.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    if (props.vpc) {
      // ENI management for VPC functions; these EC2 actions cannot be scoped to resources.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
    }
    if (props.vpc && Stack.of(props.vpc) !== Stack.of(this)) {
      acknowledgeControl(
        this,
        'lambda_inside_vpc_check',
        'This function runs in the VPC of another stack (the dev VPC of the platform stack): its subnet and security group ids are cross-stack imports (Fn::ImportValue), which the static rule cannot read.',
      );
    } else if (!props.vpc) {
      acknowledgeControl(
        this,
        'lambda_inside_vpc_check',
        'This function reaches only AWS APIs over TLS with IAM (no private resource such as the legacy database): a VPC would add NAT cost and cold-start time for no security gain. Functions that query the legacy database run in its VPC.',
      );
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only X-Ray PutTraceSegments/PutTelemetryRecords (and, for VPC functions, the Lambda ENI actions) use Resource "*": AWS does not support resource-level permissions for them.',
    });
  }
}
