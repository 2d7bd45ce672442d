/**
 * `npm run bench [-- name…]`: runs every `bench/*.bench.ts` (or the named ones) and writes
 * their sections into BENCHMARKS.md, with the machine and the command. Figures are ratios
 * against baselines measured in the same run; nothing here is a test assertion.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bench, BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'BENCHMARKS.md');
const filter = process.argv.slice(2);

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

function render(name: string, s: BenchSection, when: string): string {
  const lines = [
    `<!-- bench:${name} -->`,
    `## ${s.title}`,
    '',
    `Measured ${when} by \`npm run bench -- ${name}\`.`,
    '',
  ];
  lines.push('| metric | value | baseline (same run) | ratio | target | met |', '|---|---|---|---|---|---|');
  for (const r of s.rows) {
    const ratio = r.baseline?.value ? `${((r.value / r.baseline.value) * 100).toFixed(1)} %` : '';
    const base = r.baseline ? `${r.baseline.metric}: ${fmt(r.baseline.value)} ${r.unit}` : '';
    const met = r.met === undefined ? '' : r.met ? 'yes' : 'no';
    lines.push(
      `| ${r.metric} | ${fmt(r.value)} ${r.unit} | ${base} | ${ratio} | ${r.target ?? ''} | ${met} |`,
    );
  }
  if (s.notes?.length) lines.push('', ...s.notes.map((n) => `- ${n}`));
  lines.push(`<!-- /bench:${name} -->`);
  return lines.join('\n');
}

/** The metric of a rendered table row (its first cell). */
const metricOf = (line: string) => line.slice(2).split(' | ')[0];
/** A note's lead-in: its text up to the first `:`. */
const leadOf = (line: string) => line.slice(2).split(':')[0];

/**
 * A partial section's rows and notes merged into the section already in BENCHMARKS.md (see
 * `BenchSection.partial`), with a note naming what was re-measured and when.
 */
export function merge(old: string, name: string, s: BenchSection, when: string): string {
  const lines = old.split('\n');
  const fresh = render(name, s, when).split('\n');
  const rows = fresh.filter((l) => l.startsWith('| ') && !l.startsWith('| metric '));
  const notes = [
    ...fresh.filter((l) => l.startsWith('- ')),
    `- Re-measured (${name} filter): ${when}, the rows ${rows.map((r) => `"${metricOf(r)}"`).join(', ')}; the other rows are from the date above.`,
  ];
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith('| ')) {
      const row = rows.find((r) => metricOf(r) === metricOf(l));
      out.push(row ?? l);
      if (row) rows.splice(rows.indexOf(row), 1);
      continue;
    }
    if (l.startsWith('- ') && notes.some((n) => leadOf(n) === leadOf(l))) continue;
    if (l.startsWith(`<!-- /bench:${name} -->`)) {
      // Rows new to the section go after the table's last row; notes at the end.
      const lastRow = out.map((x) => x.startsWith('| ')).lastIndexOf(true);
      out.splice(lastRow + 1, 0, ...rows);
      if (out.at(-1) === '') out.pop();
      out.push(...notes, l);
      continue;
    }
    out.push(l);
  }
  return out.join('\n');
}

const header = () =>
  [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (all) or `npm run bench -- <name>` (one section). Timings on a shared,',
    'noisy machine: compare the ratios against the baselines measured in the same run, not absolute figures.',
    '',
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}.`,
    '',
  ].join('\n');

async function main() {
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()
    .filter((f) => filter.length === 0 || filter.includes(f.replace(/\.bench\.ts$/, '')));
  if (files.length === 0) {
    console.error(`no benchmarks match ${filter.join(', ')}`);
    process.exit(2);
  }
  let doc = existsSync(out) ? readFileSync(out, 'utf8') : header();
  // Refresh the machine line on every run.
  doc = doc.replace(
    /^Machine: .*$/m,
    header()
      .split('\n')
      .find((l) => l.startsWith('Machine:'))!,
  );
  for (const f of files) {
    const name = f.replace(/\.bench\.ts$/, '');
    console.log(`\n== bench ${name}`);
    const mod = (await import(pathToFileURL(path.join(here, f)).href)) as { default: Bench };
    const started = Date.now();
    const section = await mod.default((line) => console.log(`  ${line}`));
    const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const md = render(name, section, when);
    console.log(
      md
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .join('\n'),
    );
    console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
    const existing = re.exec(doc)?.[0];
    if (existing && section.partial) doc = doc.replace(re, () => merge(existing, name, section, when));
    else doc = existing ? doc.replace(re, () => md) : `${doc.trimEnd()}\n\n${md}\n`;
    writeFileSync(out, doc);
  }
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
