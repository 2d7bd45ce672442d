/**
 * `cutover preflight`: read-only checks of a migration's legacy database (and, when reachable,
 * its service tables) against its spec, before the first sync. See README "Preflight".
 */
import type { MigrationSpec } from '../spec/schema.js';
import { type Finding, factsRequest, legacyFindings, type PreflightOptions } from './checks.js';
import type { FactsReader } from './facts.js';

export type { Finding, FindingStatus, PreflightOptions } from './checks.js';
export { factsRequest, legacyFindings } from './checks.js';
export type { DatabaseFacts, FactsReader } from './facts.js';
export { MysqlFactsReader } from './mysql-reader.js';

export interface PreflightReport {
  readonly migration: string;
  readonly findings: readonly Finding[];
  readonly counts: Readonly<Record<'pass' | 'warn' | 'fail', number>>;
  /** 1 when any check failed, else 0. */
  readonly exitCode: 0 | 1;
}

/** Reads the legacy database's facts and runs every check on them. */
export async function runPreflight(
  spec: MigrationSpec,
  reader: FactsReader,
  options: PreflightOptions = {},
  extra: readonly Finding[] = [],
): Promise<PreflightReport> {
  const facts = await reader.read(factsRequest(spec));
  return report(spec.name, [...legacyFindings(spec, facts, options), ...extra]);
}

/** Sums findings into a report. */
export function report(migration: string, findings: readonly Finding[]): PreflightReport {
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const f of findings) counts[f.status]++;
  return { migration, findings, counts, exitCode: counts.fail > 0 ? 1 : 0 };
}

/** The report as text: one `PASS|WARN|FAIL  check  subject: message` line per check. */
export function formatReport(r: PreflightReport): string {
  const lines = [`Preflight of migration "${r.migration}"`];
  for (const f of r.findings) {
    lines.push(`${f.status.toUpperCase().padEnd(4)}  ${f.check.padEnd(26)} ${f.subject}: ${f.message}`);
    for (const d of f.detail ?? []) lines.push(`      ${d}`);
  }
  lines.push(`${r.counts.pass} passed, ${r.counts.warn} warnings, ${r.counts.fail} failed`);
  return lines.join('\n');
}
