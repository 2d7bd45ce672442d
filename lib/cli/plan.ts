/**
 * `cutover plan <migration> [service]`: what a rollout will do, from the spec and the
 * environment's settings in cdk.json alone (no AWS call): per service its steps in order with
 * the flags each deploys, the bake and gate thresholds, the approvals and their timeouts, and
 * the minimum time it takes. The steps are the state machine's own (`rolloutPlan`, the plan the
 * construct renders), so the plan cannot drift from what runs.
 */
import { formatMeasure, type GateCheck, type PhaseName, rolloutPlan } from '../../lambdas/domain/rollout.js';
import type { MigrationSpec, ServiceSpec } from '../spec/schema.js';
import type { EnvironmentSettings } from '../stacks/settings.js';

/** How long one gradual AppConfig deployment takes before the rollout goes on (grow + final bake). */
export interface FlagDeploymentTiming {
  readonly deploymentMinutes: number;
  readonly finalBakeMinutes: number;
}

/** The defaults lib/stacks/platform-stack.ts applies when cdk.json does not set them. */
export function flagDeploymentTiming(
  settings: Pick<EnvironmentSettings, 'flagDeploymentMinutes' | 'flagBakeMinutes'>,
): FlagDeploymentTiming {
  return {
    deploymentMinutes: settings.flagDeploymentMinutes ?? 2,
    finalBakeMinutes: settings.flagBakeMinutes ?? 10,
  };
}

export interface PlannedGate {
  readonly id: string;
  readonly checks: readonly (GateCheck & { readonly text: string })[];
}

export interface PlannedStep {
  readonly id: string;
  readonly phase: PhaseName;
  /** `flags`: a flag deployment (bake, gate); `approval`: waits for a person; `backfill`, `validation`, `archive`. */
  readonly kind: 'flags' | 'backfill' | 'validation' | 'approval' | 'archive';
  readonly readPercentage?: number;
  readonly writeMode?: string;
  /** The gradual flag deployment (grow + final bake), seconds. */
  readonly deploymentSeconds?: number;
  readonly bakeSeconds?: number;
  readonly gate?: PlannedGate;
  /** Approval: how long it waits before the execution fails (and rolls back). */
  readonly timeoutSeconds?: number;
  /** Lower bound of this step's time (seconds); 0 for what depends on data or people. */
  readonly minimumSeconds: number;
  readonly note?: string;
}

export interface ServicePlan {
  readonly service: string;
  readonly steps: readonly PlannedStep[];
  readonly onMissingData: 'fail' | 'extend';
  readonly maxBakeExtensions: number;
  readonly approvals: number;
  readonly minimumSeconds: number;
}

export interface MigrationPlan {
  readonly migration: string;
  readonly env: string;
  readonly flagDeployment: FlagDeploymentTiming;
  /** Services in rollout order: each starts only after the previous one has completed. */
  readonly services: readonly ServicePlan[];
  readonly minimumSeconds: number;
}

/** How a gate check's comparator reads in a terminal (`errorRate < 0.1 %`). */
export const COMPARATOR_SYMBOL = { below: '<', atLeast: '>=', atMost: '<=' } as const;

/** The plan of one service. */
export function servicePlan(service: ServiceSpec, timing: FlagDeploymentTiming): ServicePlan {
  const plan = rolloutPlan(service);
  const deploy = (timing.deploymentMinutes + timing.finalBakeMinutes) * 60;
  const approval = (phase: PhaseName, id: string): PlannedStep => ({
    id,
    phase,
    kind: 'approval',
    timeoutSeconds: plan.approvalTimeoutSeconds,
    minimumSeconds: 0,
    note: 'cutover approve|reject <service> --by <name>; a timeout fails the rollout and rolls back',
  });
  const steps: PlannedStep[] = [];
  for (const s of plan.steps) {
    if (s.approvalBefore) steps.push(approval(s.phase, `Approve${s.id}`));
    steps.push({
      id: s.id,
      phase: s.phase,
      kind: 'flags',
      readPercentage: s.flags.read.percentage,
      writeMode: s.flags.write.mode,
      deploymentSeconds: deploy,
      bakeSeconds: s.gate ? s.bakeSeconds : 0,
      ...(s.gate
        ? {
            gate: {
              id: s.gate.id,
              checks: s.gate.checks.map((c) => ({
                ...c,
                text: `${c.check} ${COMPARATOR_SYMBOL[c.comparator]} ${formatMeasure(c.check, c.threshold)}`,
              })),
            },
          }
        : {}),
      minimumSeconds: deploy + (s.gate ? s.bakeSeconds : 0),
    });
    if (s.phase === 'read-only-sync') {
      steps.push({
        id: 'Backfill',
        phase: s.phase,
        kind: 'backfill',
        minimumSeconds: 0,
        note: `key ranges of ${plan.backfill.chunkSize} keys, ${plan.backfill.concurrency} at a time (time depends on the data)`,
      });
      steps.push({
        id: 'Validate',
        phase: s.phase,
        kind: 'validation',
        minimumSeconds: 0,
        note: 'full validation: equal counts and zero mismatches',
      });
    }
  }
  steps.push(approval('decommission', 'ApproveDecommission'));
  steps.push({
    id: 'Archive',
    phase: 'decommission',
    kind: 'archive',
    minimumSeconds: 0,
    note: 'legacy tables to S3 (nothing dropped)',
  });
  return {
    service: service.name,
    steps,
    onMissingData: plan.onMissingData,
    maxBakeExtensions: plan.maxBakeExtensions,
    approvals: steps.filter((s) => s.kind === 'approval').length,
    minimumSeconds: steps.reduce((sum, s) => sum + s.minimumSeconds, 0),
  };
}

/** The plan of a migration (or of one service when `service` is given). */
export function migrationPlan(
  spec: MigrationSpec,
  env: string,
  timing: FlagDeploymentTiming,
  service?: ServiceSpec,
): MigrationPlan {
  const services = (service ? [service] : spec.services).map((s) => servicePlan(s, timing));
  return {
    migration: spec.name,
    env,
    flagDeployment: timing,
    services,
    minimumSeconds: services.reduce((sum, s) => sum + s.minimumSeconds, 0),
  };
}

/** `90061` -> `1 d 1 h 1 min` (seconds below a minute are dropped; `0 min` for zero). */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const parts = [d ? `${d} d` : '', h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean);
  return parts.length ? parts.join(' ') : '0 min';
}

/** The plan as text for a terminal. */
export function formatPlan(p: MigrationPlan): string {
  const lines = [
    `${p.migration} (${p.env}): each flag change is a gradual AppConfig deployment of ${p.flagDeployment.deploymentMinutes} min + ${p.flagDeployment.finalBakeMinutes} min final bake`,
  ];
  for (const s of p.services) {
    lines.push(
      '',
      `${s.service}  (minimum ${formatDuration(s.minimumSeconds)}; on missing gate data: ${s.onMissingData}, up to ${s.maxBakeExtensions} bake extensions)`,
    );
    for (const st of s.steps) {
      const head = `  ${st.phase.padEnd(15)} ${st.id.padEnd(20)}`;
      if (st.kind === 'flags') {
        lines.push(
          `${head}read ${st.readPercentage} %, write ${st.writeMode}; deploy ${formatDuration(st.deploymentSeconds!)}` +
            (st.gate ? `, bake ${formatDuration(st.bakeSeconds!)}` : ''),
        );
        if (st.gate)
          lines.push(`${' '.repeat(38)}gate ${st.gate.id}: ${st.gate.checks.map((c) => c.text).join(', ')}`);
      } else if (st.kind === 'approval') {
        lines.push(`${head}approval, times out after ${formatDuration(st.timeoutSeconds!)} (${st.note})`);
      } else {
        lines.push(`${head}${st.kind}: ${st.note}`);
      }
    }
  }
  lines.push(
    '',
    `minimum total: ${formatDuration(p.minimumSeconds)} (services one after another; plus backfill, validation, approvals and any bake extensions)`,
  );
  return lines.join('\n');
}
