/**
 * The rehearsal's report as Markdown (the JSON is the {@link RehearsalReport} itself), and the
 * one-line progress shown while it runs.
 */
import { divergentRowMarkdown } from './divergence.js';
import type { Progress, RehearsalReport } from './rehearsal.js';

const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${Math.round(v)} ms`);

/** One progress line: phase, events, lag, DLQ depth. */
export function progressLine(p: Progress): string {
  return (
    `[${(p.elapsedMs / 1000).toFixed(0).padStart(4)} s] ${p.phase.padEnd(8)} ` +
    `offered ${p.offered}  applied ${p.applied}  failed ${p.failed}  dlq ${p.dlq}  ` +
    `queued ${p.queueDepth}  lag p99 ${ms(p.lagP99Ms)}`
  );
}

export function reportMarkdown(r: RehearsalReport): string {
  const lines = [
    `# Rehearsal: ${r.migration} / ${r.service} (${r.env}) — ${r.ok ? 'passed' : 'FAILED'}`,
    '',
    `Rate ${r.settings.rate}/s for ${r.settings.durationMs / 1000} s, ${r.settings.datasetRows} rows, ` +
      `template durations ÷ ${r.settings.timeScale}, faults: ${r.settings.faults.join(', ') || 'none'}. ` +
      `Assembly: \`${r.assembly.directory}\`.`,
    '',
    '## Phases',
    '',
    '| phase | outcome | duration | detail |',
    '| --- | --- | --- | --- |',
    ...r.phases.map((p) => `| ${p.name} | ${p.outcome} | ${ms(p.durationMs)} | ${p.detail ?? ''} |`),
    '',
    '## Events',
    '',
    '| direction | offered | applied | failed | invocations | lag p50 | lag p99 | lag samples |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(r.events.byDirection).map(([d, e]) => {
      const l = r.lag.byDirection[d];
      return `| ${d} | ${e.offered} | ${e.applied} | ${e.failed} | ${e.invocations} | ${ms(l?.p50Ms)} | ${ms(l?.p99Ms)} | ${l?.samples ?? 0} |`;
    }),
    `| all | ${r.events.offered} | ${r.events.applied} | ${r.events.failed} | | ${ms(r.lag.p50Ms)} | ${ms(r.lag.p99Ms)} | |`,
    '',
    `Dead-letter queues: ${r.events.dlq} message(s). Events no rule matched: ${r.events.unmatched}` +
      (r.events.unmatchedSamples.length
        ? ` (e.g. ${r.events.unmatchedSamples.map((s) => `${s.source} ${s.detailType}`).join('; ')})`
        : '') +
      '.',
    '',
    '## Edits',
    '',
    `Entities with traffic: ${r.entities.traffic.join(', ')}` +
      (r.entities.skipped.length
        ? `; left out: ${r.entities.skipped.map((x) => `${x.entity} (${x.reason})`).join('; ')}`
        : '') +
      '.',
    '',
    '| side and edit | rows changed | values arrived |',
    '| --- | --- | --- |',
    ...Object.entries(r.edits).map(([k, e]) => `| ${k} | ${e.offered} | ${e.applied ?? '– (counter)'} |`),
    '',
    '## Conflicts and divergence',
    '',
    `Conflicts by policy: ${fmt(r.conflicts.byPolicy)}; by winner: ${fmt(r.conflicts.byWinner)}.`,
    `Rows differing at the end: **${r.divergence.rows}**; parked conflicts: ${r.divergence.parked}.`,
    ...(r.divergence.differing.length
      ? [
          '',
          'Differing rows (field names and stamps only, never values):',
          '',
          '| entity | legacy key | service key | kind | fields | sync state | last changes |',
          '| --- | --- | --- | --- | --- | --- | --- |',
          ...r.divergence.differing.map(divergentRowMarkdown),
          '',
        ]
      : []),
    `Rollbacks: ${r.rollbacks.length}.`,
    ...r.rollbacks.map(
      (rb) =>
        `- ${rb.fault ?? 'no fault'}: ${rb.cause}; from the fault: gate failed ${ms(rb.gateFailedMs)}, ` +
        `flags restored ${ms(rb.flagsRestoredMs)}, reads back on legacy ${ms(rb.routingChangedMs)}`,
    ),
    '',
    '## Wiring read from the templates',
    '',
    ...r.assembly.mappings.map(
      (m) =>
        `- mapping \`${m.id}\`: batch ${m.batchSize}, window ${m.maximumBatchingWindowSeconds} s` +
        (m.maximumConcurrency ? `, max concurrency ${m.maximumConcurrency}` : ''),
    ),
    ...r.assembly.queues.map(
      (q) =>
        `- queue \`${q.id}\`: visibility ${q.visibilityTimeoutSeconds} s, maxReceiveCount ${q.maxReceiveCount ?? '–'}`,
    ),
    '',
  ];
  return lines.join('\n');
}

function fmt(o: Record<string, number>): string {
  const e = Object.entries(o);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}
