/**
 * The rollout phases of a rehearsal report, as `[name, outcome]` pairs, and what a rollout that
 * ran to its end reports (the phases of lambdas/domain/rollout.ts, in order).
 */
import type { RehearsalReport } from '../../lib/rehearse/rehearsal.js';

export const ROLLOUT_SUCCEEDED: readonly (readonly [string, string])[] = [
  ['rollout read-only-sync', 'succeeded'],
  ['rollout shadow-writes', 'succeeded'],
  ['rollout switch-reads', 'succeeded'],
  ['rollout cutover-writes', 'succeeded'],
  ['rollout decommission', 'succeeded'],
];

export function rolloutOutcomes(report: RehearsalReport): [string, string][] {
  return report.phases.filter((p) => p.name.startsWith('rollout ')).map((p) => [p.name, p.outcome]);
}
