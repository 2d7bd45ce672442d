#!/usr/bin/env -S npx tsx
/**
 * `npm start`: synthesizes the dev app (both bundled migrations) into ./cdk.out, offline and
 * without AWS credentials, and prints a short summary per stack: resources by type, the flags
 * each migration starts with, and the state machines.
 *
 *   npm start                 # dev
 *   npm start -- staging      # another environment
 */
import { performance } from 'node:perf_hooks';
import { reportConfigurationErrors } from '../lib/cli/config-errors.js';

// A bad spec or environment prints its message (every bad field named), not a stack trace.
await reportConfigurationErrors(async () => {
  const { buildApp } = await import('../lib/app.js');
  const env = process.argv[2] ?? 'dev';
  const started = performance.now();
  const built = buildApp({ env, outdir: 'cdk.out' });
  const assembly = built.app.synth();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);

  console.log(
    `\nCutover ${env}: ${assembly.stacks.length} stacks in ${assembly.directory} (${seconds} s, cdk-nag AwsSolutions clean)\n`,
  );
  for (const stack of assembly.stacks) {
    const resources = Object.values(
      (
        stack.template as {
          Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
        }
      ).Resources ?? {},
    );
    const byType = new Map<string, number>();
    for (const r of resources) byType.set(r.Type, (byType.get(r.Type) ?? 0) + 1);
    const top = [...byType].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    console.log(`${stack.stackName}: ${resources.length} resources`);
    console.log(`  ${top.map(([t, n]) => `${t.replace(/^AWS::/, '')} ${n}`).join(', ')}`);
    const machines = resources
      .filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')
      .map((r) => String(r.Properties?.['StateMachineName'] ?? '(unnamed)'));
    if (machines.length) console.log(`  state machines: ${machines.join(', ')}`);
  }
  for (const [name, m] of Object.entries(built.platform.migrations)) {
    const values = m.flags.initialDocument.values;
    console.log(
      `\nflags of ${name} (AppConfig profile, initial version): ` +
        Object.entries(values)
          .map(([flag, v]) => `${flag}=${'percentage' in v ? `${v['percentage']}%` : v['mode']}`)
          .join(' '),
    );
  }
});
