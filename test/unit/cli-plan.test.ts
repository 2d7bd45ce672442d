/**
 * `cutover plan`: the bundled specs' rollouts, with every duration computed here from the spec
 * values and cdk.json's flag-deployment timing (not copied from the output).
 */
import { describe, expect, it, vi } from 'vitest';
import { program, reportError } from '../../bin/cutover.js';
import { flagDeploymentTiming, formatDuration, formatPlan, migrationPlan } from '../../lib/cli/plan.js';
import type { ServiceSpec } from '../../lib/spec/schema.js';
import { cdkJsonContext, environmentSettings } from '../../lib/stacks/settings.js';
import { migrations } from '../../migrations/index.js';

const settings = (env: string) => environmentSettings(cdkJsonContext()['environments'], env);

/** Minimum of one service, from the spec: every flag step deploys, gated steps bake. */
function expectedMinimum(s: ServiceSpec, deployMin: number, finalBakeMin: number): number {
  const r = s.rollout;
  const flagSteps = 1 /* read-only */ + 1 /* shadow */ + r.canarySteps.length + 1; /* cutover */
  const bakes = 2 * r.bakeMinutes + r.canarySteps.length * (r.canaryBakeMinutes ?? r.bakeMinutes);
  return (flagSteps * (deployMin + finalBakeMin) + bakes) * 60;
}

describe('cutover plan', () => {
  for (const spec of migrations) {
    for (const env of ['dev', 'prod']) {
      it(`${spec.name} (${env}): steps, gates, approvals and minimum durations follow the spec`, () => {
        const s = settings(env);
        const timing = flagDeploymentTiming(s);
        expect(timing).toEqual({
          deploymentMinutes: s.flagDeploymentMinutes,
          finalBakeMinutes: s.flagBakeMinutes,
        });
        const plan = migrationPlan(spec, env, timing);
        expect(plan.services.map((p) => p.service)).toEqual(spec.services.map((x) => x.name));
        let total = 0;
        for (const [i, service] of spec.services.entries()) {
          const p = plan.services[i]!;
          const want = expectedMinimum(service, s.flagDeploymentMinutes!, s.flagBakeMinutes!);
          expect(p.minimumSeconds).toBe(want);
          total += want;
          const r = service.rollout;
          expect(p.approvals).toBe(r.approveBeforeCutover ? 2 : 1);
          const approvals = p.steps.filter((x) => x.kind === 'approval');
          for (const a of approvals) expect(a.timeoutSeconds).toBe(r.approvalTimeoutHours * 3600);
          // Order of the flag steps and their flags.
          const flags = p.steps.filter((x) => x.kind === 'flags');
          expect(flags.map((x) => x.readPercentage)).toEqual([0, 0, ...r.canarySteps, 100]);
          expect(flags.map((x) => x.writeMode)).toEqual([
            'legacy',
            'shadow',
            ...r.canarySteps.map(() => 'shadow'),
            'primary',
          ]);
          expect(flags.slice(2, -1).map((x) => x.bakeSeconds)).toEqual(
            r.canarySteps.map(() => (r.canaryBakeMinutes ?? r.bakeMinutes) * 60),
          );
          // The cutover gate carries the spec's thresholds.
          const cutover = flags.at(-1)!.gate!;
          expect(cutover.checks.find((c) => c.check === 'errorRate')!.threshold).toBe(r.gates.maxErrorRate);
          expect(cutover.checks.find((c) => c.check === 'p95LatencyMs')!.threshold).toBe(r.gates.maxP95Ms);
          if (r.approveBeforeCutover) {
            const at = p.steps.findIndex((x) => x.id === 'Cutover');
            expect(p.steps[at - 1]!.kind).toBe('approval');
          }
        }
        expect(plan.minimumSeconds).toBe(total);
        const text = formatPlan(plan);
        expect(text).toContain(`minimum total: ${formatDuration(total)}`);
        for (const service of spec.services) {
          expect(text).toContain(`p95LatencyMs < ${service.rollout.gates.maxP95Ms} ms`);
        }
      });
    }
  }

  it('formats durations in days, hours and minutes', () => {
    expect(formatDuration(0)).toBe('0 min');
    expect(formatDuration(86_400 + 3600 + 60 + 59)).toBe('1 d 1 h 1 min');
    expect(formatDuration(2 * 3600)).toBe('2 h');
  });

  it('prints JSON with --json, one service when named', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((t) => {
      out.push(String(t));
      return true;
    });
    try {
      await program().parseAsync(['node', 'cutover', 'plan', 'magento', 'catalog', '--json']);
    } finally {
      spy.mockRestore();
    }
    const plan = JSON.parse(out.join(''));
    expect(plan.services.map((s: { service: string }) => s.service)).toEqual(['catalog']);
    const catalog = migrations[0]!.services.find((s) => s.name === 'catalog')!;
    const dev = settings('dev');
    expect(plan.minimumSeconds).toBe(
      expectedMinimum(catalog, dev.flagDeploymentMinutes!, dev.flagBakeMinutes!),
    );
  });

  it('an unknown service or environment is a message naming what exists (exit 2), no stack trace', async () => {
    for (const [args, words] of [
      [['plan', 'magento', 'nope'], 'its services are customer, catalog, order'],
      [['plan', 'magento', '--env', 'qa'], 'Unknown environment "qa"'],
    ] as const) {
      const err = await program()
        .parseAsync(['node', 'cutover', ...args])
        .catch((e: unknown) => e);
      const lines: string[] = [];
      expect(reportError(err, (l) => lines.push(l))).toBe(2);
      expect(lines.join('\n')).toContain(words);
      expect(lines.join('\n')).not.toMatch(/\n\s+at /);
    }
  });

  it('a spec that does not validate is reported as its message when the command loads it (exit 2)', async () => {
    vi.resetModules();
    vi.doMock('../../migrations/index.js', async () => {
      const { SpecError } = await import('../../lib/spec/schema.js');
      // As a spec module fails when it loads (vitest wraps a factory's own throw).
      return {
        get migrations(): never {
          throw new SpecError('shop', [{ path: 'services.0.rollout.bakeMinutes', message: 'must be >= 0' }]);
        },
      };
    });
    try {
      const cli = await import('../../bin/cutover.js');
      const err = await cli
        .program()
        .parseAsync(['node', 'cutover', 'plan', 'shop'])
        .catch((e: unknown) => e);
      const lines: string[] = [];
      const code = cli.reportError(err, (l) => lines.push(l));
      expect(code, lines.join('\n')).toBe(2);
      expect(lines.join('\n')).toContain('Invalid migration spec "shop"');
      expect(lines.join('\n')).toContain('services.0.rollout.bakeMinutes: must be >= 0');
      expect(lines.join('\n')).not.toMatch(/\n\s+at /);
    } finally {
      vi.doUnmock('../../migrations/index.js');
      vi.resetModules();
    }
  });
});

describe('cutover: errors', () => {
  it('an AWS SDK error is an AWS error (exit 3) with its name and message; any other error has no stack trace unless CUTOVER_DEBUG', () => {
    const lines: string[] = [];
    const sdk = Object.assign(new Error('User is not authorized to perform: appconfig:ListDeployments'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(reportError(sdk, (l) => lines.push(l))).toBe(3);
    expect(lines.pop()).toBe(
      'cutover: AWS: AccessDeniedException: User is not authorized to perform: appconfig:ListDeployments',
    );
    expect(reportError(new TypeError('x is undefined'), (l) => lines.push(l))).toBe(70);
    expect(lines.pop()).not.toMatch(/\n\s+at /);
  });
});
