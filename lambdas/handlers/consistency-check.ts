/**
 * The consistency check (lambdas/domain/consistency.ts): counts, per-chunk checksums, row diff
 * of differing chunks, a report of mismatching keys, and with `repair: true` change events
 * re-emitted for them — refused once the service's writes are cut over (`RepairAfterCutoverError`).
 * Called by an operator (on demand; the scheduled reconciliation is full validation).
 *
 * Input: `{ entities?: string[], repair?: boolean, chunkSize?: number }`.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { entityByName } from '../../lib/spec/lookup.js';
import { writeModeFromEnv } from '../adapters/appconfig-write-mode.js';
import { type ConsistencyReport, checkConsistency } from '../domain/consistency.js';
import { logger } from './powertools.js';
import { runtime } from './runtime.js';

export interface ConsistencyCheckEvent {
  readonly entities?: readonly string[];
  readonly repair?: boolean;
  readonly chunkSize?: number;
}

export interface ConsistencyCheckResponse {
  /** Every checked entity has zero mismatches and equal counts. */
  readonly consistent: boolean;
  /** Matching rows / rows checked, for the rollout's `minConsistency` gate. */
  readonly ratio: number;
  readonly reports: readonly ConsistencyReport[];
}

let writeModeOf: ReturnType<typeof writeModeFromEnv> | null | undefined;

export const handler = middy(
  async (event: ConsistencyCheckEvent | undefined): Promise<ConsistencyCheckResponse> => {
    const rt = await runtime();
    // A repair is refused once the service's writes are cut over (the deployed write mode).
    writeModeOf ??= writeModeFromEnv(rt.spec) ?? null;
    const deps = writeModeOf ? { ...rt, writeModeOf } : rt;
    const names =
      event?.entities ??
      rt.spec.services.flatMap((s) => s.entities.map((e) => e.name)).filter((n) => n in rt.serviceTables);
    const reports: ConsistencyReport[] = [];
    for (const name of names) {
      const { entity } = entityByName(rt.spec, name);
      const report = await checkConsistency(deps, entity, {
        repair: event?.repair ?? false,
        ...(event?.chunkSize ? { chunkSize: event.chunkSize } : {}),
      });
      logger.info('consistency', {
        entity: name,
        legacyCount: report.legacyCount,
        serviceCount: report.serviceCount,
        mismatches: report.mismatchesTotal,
        repaired: report.repaired,
      });
      reports.push(report);
    }
    const rows = reports.reduce((n, r) => n + Math.max(r.legacyCount, r.serviceCount), 0);
    const bad = reports.reduce((n, r) => n + r.mismatchesTotal, 0);
    return {
      consistent: reports.every((r) => r.mismatchesTotal === 0 && r.legacyCount === r.serviceCount),
      ratio: rows === 0 ? 1 : (rows - bad) / rows,
      reports,
    };
  },
).use(injectLambdaContext(logger));
