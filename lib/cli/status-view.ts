/**
 * How `cutover status` looks: a text block per service (colour only on a terminal), and the
 * `--watch` loop that redraws it until q or Ctrl-C and leaves the terminal as it found it.
 */
import { systemSleep } from '../../lambdas/adapters/system-clock.js';
import { formatMeasure } from '../../lambdas/domain/rollout.js';
import type { MigrationStatus } from './operator-commands.js';
import { COMPARATOR_SYMBOL, formatDuration } from './plan.js';
import type { MapProgress, ValidationProgress } from './validation-progress.js';

/** Rows per second as shown: whole numbers with thousands separators. */
const rate = (r: number) => Math.round(r).toLocaleString('en-US');

/** One map's line: items succeeded / total (running, failed), rows/s while it runs, state and time. */
export function renderMapProgress(m: MapProgress): string {
  const items = `${m.succeeded.toLocaleString('en-US')} / ${m.total.toLocaleString('en-US')} items (${Math.floor(m.fraction * 100)} %; ${m.running} running, ${m.failed} failed)`;
  const rows =
    m.status !== 'RUNNING'
      ? ''
      : m.rowsPerSecond === undefined
        ? '  rows/s –'
        : `  ${rate(m.rowsPerSecond)} rows/s`;
  return `${m.map.padEnd(8)} ${items}${rows}  ${m.status.toLowerCase()} ${formatDuration(m.elapsedSeconds)}`;
}

/** A validation's block: where it runs, each map's line, the rows/s source, the report once there. */
export function renderValidation(v: ValidationProgress): string[] {
  const lines = [
    `  validation ${v.source === 'rollout' ? "rollout's phase 1" : 'reconciliation'} (run ${v.run})`,
  ];
  for (const m of v.maps) lines.push(`    ${renderMapProgress(m)}`);
  if (v.maps.some((m) => m.status === 'RUNNING')) lines.push(`    rows/s: ${v.rowsRateSource}`);
  if (v.report) lines.push(`    report   ${v.report}`);
  return lines;
}

/** The status as text; `colour` adds ANSI colours (a TTY only, never in a pipe or CI log). */
export function renderStatus(s: MigrationStatus, options: { colour: boolean; now: number }): string {
  const c = (code: string, t: string) => (options.colour ? `\u001b[${code}m${t}\u001b[0m` : t);
  const red = (t: string) => c('31', t);
  const green = (t: string) => c('32', t);
  const yellow = (t: string) => c('33', t);
  const bold = (t: string) => c('1', t);
  const lines = [bold(`${s.migration} (${s.env})  ${s.at}`), `dashboard: ${s.dashboardUrl}`];
  for (const v of s.services) {
    const e = v.execution;
    const state = !e
      ? 'never rolled out'
      : e.status === 'RUNNING'
        ? `${v.position.phase ?? '?'} at ${v.position.state ?? '?'}${v.position.approval ? yellow(`  waiting for approval of ${v.position.approval}: cutover approve ${v.service} --by <name>`) : ''}`
        : e.status === 'SUCCEEDED'
          ? green('done')
          : red(`${e.status}${e.cause ? `: ${e.cause}` : ''}`);
    lines.push('', `${bold(v.service)}  ${state}`);
    lines.push(`  flags    read ${v.flags.readPercentage} %, write ${v.flags.writeMode}`);
    if (v.gate) {
      lines.push(
        `  gate     ${v.gate.gate}: baked ${formatDuration(v.gate.elapsedSeconds)} of ${formatDuration(v.gate.bakeSeconds)}, ${formatDuration(v.gate.leftSeconds)} left`,
      );
      for (const k of v.gate.checks) {
        const value =
          k.measured === undefined
            ? k.outcome === 'at-gate'
              ? 'measured at the gate'
              : 'no data yet'
            : formatMeasure(k.check, k.measured);
        const mark =
          k.outcome === 'pass' ? green('ok  ') : k.outcome === 'fail' ? red('FAIL') : yellow('--  ');
        lines.push(
          `    ${mark} ${k.check.padEnd(20)} ${value.padEnd(22)} ${COMPARATOR_SYMBOL[k.comparator as keyof typeof COMPARATOR_SYMBOL]} ${formatMeasure(k.check, k.threshold)}`,
        );
      }
    }
    for (const p of v.validations) lines.push(...renderValidation(p));
    const lag = Object.entries(v.syncLagSeconds)
      .map(([cls, s]) => `${cls} ${s === undefined ? '–' : `${s.toFixed(1)} s`}`)
      .join(', ');
    lines.push(`  sync lag ${lag || '–'} (max, last 5 min)`);
    const dlq = v.dlqs.reduce((a, q) => a + q.depth, 0);
    lines.push(
      `  DLQs     ${dlq === 0 ? green('0') : red(String(dlq))}${
        dlq
          ? ` (${v.dlqs
              .filter((q) => q.depth)
              .map((q) => `${q.name} ${q.depth}`)
              .join(', ')})`
          : ''
      }`,
    );
    lines.push(`  conflicts ${v.openConflicts === 0 ? green('0') : yellow(String(v.openConflicts))} open`);
  }
  const platform = s.platformDlqs.filter((q) => q.depth > 0);
  if (platform.length)
    lines.push('', red(`platform DLQs: ${platform.map((q) => `${q.name} ${q.depth}`).join(', ')}`));
  return lines.join('\n');
}

export interface WatchOptions {
  readonly intervalMs: number;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Redraws the status every `intervalMs` until q, Q or Ctrl-C (raw keys on a terminal) or the end
 * of stdin; restores the terminal (cursor, raw mode) before returning.
 */
export async function watchStatus(collect: () => Promise<MigrationStatus>, o: WatchOptions): Promise<void> {
  const tty = Boolean(o.stdout.isTTY);
  let stop = false;
  let wake: (() => void) | undefined;
  const quit = () => {
    stop = true;
    wake?.();
  };
  const onData = (b: Buffer) => {
    const k = b.toString();
    if (k === 'q' || k === 'Q' || k === '\u0003') quit();
  };
  const wasRaw = o.stdin.isTTY ? o.stdin.isRaw : false;
  if (o.stdin.isTTY) o.stdin.setRawMode(true);
  o.stdin.on('data', onData);
  o.stdin.on('end', quit);
  o.stdin.resume();
  process.once('SIGINT', quit);
  if (tty) o.stdout.write('\u001b[?25l'); // hide the cursor while redrawing
  try {
    while (!stop) {
      let text: string;
      try {
        const s = await collect();
        text = renderStatus(s, { colour: tty && !process.env['NO_COLOR'], now: Date.parse(s.at) });
      } catch (e) {
        text = `cutover status: ${(e as Error).message} (retrying)`;
      }
      if (stop) break;
      o.stdout.write(
        `${tty ? '\u001b[H\u001b[2J' : ''}${text}\n\n(q or Ctrl-C to quit; refreshes every ${Math.round(o.intervalMs / 1000)} s)\n`,
      );
      // A key or the end of stdin wakes the wait early (quit aborts it, clearing its timer).
      const woken = new AbortController();
      wake = () => woken.abort();
      await systemSleep(o.intervalMs, woken.signal);
    }
  } finally {
    o.stdin.off('data', onData);
    o.stdin.off('end', quit);
    process.off('SIGINT', quit);
    if (o.stdin.isTTY) o.stdin.setRawMode(wasRaw);
    o.stdin.pause();
    if (tty) o.stdout.write('\u001b[?25h');
  }
}
