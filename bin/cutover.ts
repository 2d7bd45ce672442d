#!/usr/bin/env -S npx tsx
/**
 * The `cutover` command line.
 *
 *   cutover rehearse --migration magento [--service customer] [--env dev] [--rate 200]
 *                    [--duration 2m] [--dataset small|medium|large] [--fault poison=0.1%]…
 *                    [--report .cutover/rehearsal.json] [--assembly cdk.out] [--time-scale 60]
 *
 * `rehearse` reads the cloud assembly (synthesizing it when the directory holds none for the
 * environment), starts MariaDB and DynamoDB Local the way the tests do, runs the rehearsal
 * (lib/rehearse/rehearsal.ts) and writes the report as JSON and Markdown. Exit code 1 when the
 * rehearsal failed (data diverged without a parked conflict, or a phase failed).
 *
 *   cutover preflight --migration magento (--database-url mysql://… | --secret <name>) [--env dev]
 *                     [--dynamo-endpoint <url>] [--debezium] [--json]
 *
 * `preflight` (lib/cli/preflight-command.ts) checks the legacy database and the service tables
 * against the spec, read-only; exit code 1 when any check fails (docs/preflight.md).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CliError } from '../lib/cli/errors.js';
import { registerOperatorCommands } from '../lib/cli/operator-commands.js';
import { registerPlanCommand } from '../lib/cli/plan-command.js';
import { registerPreflightCommand } from '../lib/cli/preflight-command.js';
import { progress } from '../lib/cli/progress.js';
import { findMigration, loadMigrations } from '../lib/cli/specs.js';
import { FaultSpecError, parseDuration, parseFaults } from '../lib/rehearse/faults.js';
import { DATASET_SIZES, type DatasetSize, type Progress } from '../lib/rehearse/rehearsal.js';

const positive = (name: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

/** `2m`, `90s`, `1500ms`, or seconds as a plain number (an option's argument). */
function durationArg(text: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

async function rehearseCommand(o: {
  migration: string;
  service?: string;
  env: string;
  rate: number;
  duration: number;
  dataset: string;
  fault: string[];
  report?: string;
  assembly: string;
  timeScale: number;
  rolloutTimeScale?: number;
  rollout: boolean;
}): Promise<number> {
  // Loaded here, not at start-up: the specs validate as they load (a bad one is a message).
  const spec = findMigration(await loadMigrations(), o.migration);
  const { buildApp } = await import('../lib/app.js');
  const { readAssembly } = await import('../lib/rehearse/assembly.js');
  const { rehearse } = await import('../lib/rehearse/rehearsal.js');
  const { progressLine, reportMarkdown } = await import('../lib/rehearse/report.js');
  const { findOrStartMariaDb, startDynamoLocal } = await import('../lib/local/databases.js');
  const service = o.service ?? spec.services[0]!.name;
  const rows = DATASET_SIZES[o.dataset as DatasetSize];
  if (!rows)
    throw new InvalidArgumentError(`--dataset ${o.dataset}: one of ${Object.keys(DATASET_SIZES).join(', ')}`);
  let faults: ReturnType<typeof parseFaults>;
  try {
    faults = parseFaults(o.fault, Math.round((o.rate * o.duration) / 1000));
  } catch (e) {
    if (e instanceof FaultSpecError) throw new InvalidArgumentError(e.message);
    throw e;
  }
  const say = (line: string) => process.stderr.write(`${line}\n`);

  let assemblyDir = o.assembly;
  const stack = `cutover-${o.env}-${spec.name}-${service.replace(/_/g, '-')}`;
  if (!existsSync(path.join(assemblyDir, `${stack}.template.json`))) {
    assemblyDir = path.join('.cutover', `assembly-${o.env}`);
    say(`no ${stack} in ${o.assembly}: synthesizing ${o.env} into ${assemblyDir} (bundling skipped)…`);
    buildApp({
      env: o.env,
      outdir: assemblyDir,
      context: { 'aws:cdk:bundling-stacks': [] },
      nag: false,
    }).app.synth();
  }
  const model = readAssembly(assemblyDir);
  say(
    `rehearsing ${spec.name}/${service} (${o.env}) from ${assemblyDir}: ${rows} rows, ${o.rate}/s for ${o.duration / 1000} s`,
  );
  const [maria, dynamo] = await Promise.all([findOrStartMariaDb(say), startDynamoLocal(say)]);
  // A live line on a terminal; elsewhere a plain line at most every 5 s of the run.
  const line = progress({ plainEveryMs: 5000 });
  const onProgress = (p: Progress) => line.update(progressLine(p));
  const logFile = path.join('.cutover', `rehearsal-${spec.name}-${service}.log`);
  mkdirSync('.cutover', { recursive: true });
  const logLines: string[] = [];
  try {
    const report = await rehearse({
      model,
      spec,
      service,
      env: o.env,
      mysqlServerUrl: maria.url,
      dynamoEndpoint: dynamo.endpoint,
      rate: o.rate,
      durationMs: o.duration,
      datasetRows: rows,
      timeScale: o.timeScale,
      poisonEvents: faults.poisonEvents,
      crashAfterWrite: faults.crashAfterWrite,
      faultLabels: o.fault,
      faults,
      rollout: o.rollout,
      ...(o.rolloutTimeScale !== undefined ? { rolloutTimeScale: o.rolloutTimeScale } : {}),
      ...(faults.mariadbRestartAtMs !== undefined
        ? {
            mariadbRestartAtMs: faults.mariadbRestartAtMs,
            restartMariaDb: async () => {
              if (!maria.shutdown || !maria.start)
                throw new InvalidArgumentError(
                  '--fault mariadb-restart needs the throwaway MariaDB (unset MYSQL_URL)',
                );
              await maria.shutdown('SIGTERM');
              await new Promise((r) => setTimeout(r, 2000));
              await maria.start();
            },
          }
        : {}),
      onProgress,
      functionLog: (line) => {
        if (logLines.length < 200_000) logLines.push(line);
      },
    });
    line.stop();
    const jsonFile = o.report ?? path.join('.cutover', `rehearsal-${spec.name}-${service}.json`);
    mkdirSync(path.dirname(jsonFile), { recursive: true });
    const mdFile = jsonFile.replace(/\.json$/, '') + '.md';
    writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(mdFile, reportMarkdown(report));
    writeFileSync(logFile, `${logLines.join('\n')}\n`);
    for (const p of report.phases)
      say(
        `  ${p.outcome === 'succeeded' ? 'ok  ' : p.outcome === 'skipped' ? 'skip' : p.explainedBy ? 'RBK ' : 'FAIL'} ${p.name}: ${p.detail ?? ''}${p.explainedBy ? ` (fault ${p.explainedBy})` : ''}`,
      );
    for (const rb of report.rollbacks)
      say(
        `  rollback (${rb.fault ?? 'no fault'}): gate failed +${rb.gateFailedMs} ms, flags restored +${rb.flagsRestoredMs ?? '–'} ms, reads back on legacy +${rb.routingChangedMs ?? '–'} ms`,
      );
    say(
      `${report.ok ? 'passed' : 'FAILED'}: ${report.events.applied} applied, ${report.events.dlq} in DLQs, ` +
        `lag p50 ${report.lag.p50Ms ?? '–'} ms p99 ${report.lag.p99Ms ?? '–'} ms, ` +
        `${report.divergence.rows} rows differ (${report.divergence.parked} parked)`,
    );
    say(`report: ${mdFile} and ${jsonFile} (function logs: ${logFile})`);
    return report.ok ? 0 : 1;
  } finally {
    line.stop();
    await Promise.allSettled([maria.stop(), dynamo.stop()]);
  }
}

export function program(): Command {
  // Set first, so every subcommand inherits it: commander's usage errors reach reportError.
  const cmd = new Command('cutover').exitOverride().description('Strangler-fig migrations on AWS CDK');
  cmd
    .command('rehearse')
    .description('run a migration on this machine from the synthesized app, with traffic, and report')
    .requiredOption('--migration <name>', 'bundled migration (magento, menu)')
    .option('--service <name>', 'service of the migration (default: the first)')
    .option('--env <stage>', 'environment of the assembly', 'dev')
    .option('--rate <n>', 'changes per second offered (both sides)', positive('--rate'), 50)
    .option('--duration <d>', 'traffic phase length (90s, 2m)', durationArg, 30_000)
    .option('--dataset <size>', `rows generated in Magento: ${Object.keys(DATASET_SIZES).join('|')}`, 'small')
    .option(
      '--fault <spec>',
      'inject a fault (repeatable): poison=<n>|<p>%, crash-after-write=<p>%, mariadb-restart@<time>, ' +
        'service-errors=<p>%[@<time>|@<Step>], service-latency=<ms>ms[@<time>|@<Step>], dynamo-throttle=<p>%',
      (v, prev: string[]) => [...prev, v],
      [],
    )
    .option('--report <file.json>', 'report path (.md written beside it)')
    .option('--assembly <dir>', 'cloud assembly to read (synthesized when it lacks the stack)', 'cdk.out')
    .option(
      '--time-scale <n>',
      'template durations (schedules, visibility) divided by this',
      positive('--time-scale'),
      60,
    )
    .option(
      '--rollout-time-scale <n>',
      "the rollout's durations (waits, bakes, AppConfig strategies, flag polls) divided by this (default: its bakes span the traffic)",
      positive('--rollout-time-scale'),
    )
    .option(
      '--rollout',
      'run the rollout state machine during the traffic, users reading and writing through the gateway',
      false,
    )
    .action(async (opts) => {
      process.exitCode = await rehearseCommand(opts);
    });
  registerPreflightCommand(cmd, loadMigrations);
  registerPlanCommand(cmd, print);
  registerOperatorCommands(cmd, print);
  cmd.addHelpText('after', EXIT_CODES_HELP);
  return cmd;
}

const print = (text: string) => process.stdout.write(`${text}\n`);

const EXIT_CODES_HELP = `
Exit codes: 0 done (rollout wait: cut over); 1 bad outcome (rollout failed or rolled back, a check
failed, messages left in a DLQ); 2 usage or configuration error; 3 AWS error (credentials, stack
not deployed, call refused); 4 rollout wait --timeout elapsed.`;

/** Prints an error the operator can act on as its message alone, with its exit code. */
export function reportError(
  e: unknown,
  stderr: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): number {
  if (e instanceof CliError) {
    stderr(`cutover: ${e.message}`);
    return e.exitCode;
  }
  if (e instanceof InvalidArgumentError) {
    // Thrown by a command's action (commander prints only those it throws while parsing).
    stderr(`cutover: ${e.message}`);
    return 2;
  }
  if (e instanceof CommanderError) {
    // commander printed it already (help and version end with code 0).
    return e.exitCode === 0 ? 0 : 2;
  }
  const err = e as { name?: string; message?: string; stack?: string; $metadata?: unknown };
  if (err?.$metadata !== undefined) {
    // An AWS SDK error the command did not word itself (AccessDenied, throttling, …).
    stderr(`cutover: AWS: ${err.name}: ${err.message}`);
    return 3;
  }
  // Anything else is a bug in cutover: its name and message; the stack with CUTOVER_DEBUG=1.
  stderr(
    `cutover: ${process.env['CUTOVER_DEBUG'] ? (err?.stack ?? String(e)) : `${err?.name ?? 'Error'}: ${err?.message ?? String(e)} (CUTOVER_DEBUG=1 shows the stack)`}`,
  );
  return 70;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('cutover.ts')) {
  program()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      process.exitCode = reportError(e);
    });
}
