/**
 * The migration spec of this function: validated when the app is synthesized and compiled into
 * the function's bundle as plain JSON (esbuild `define`, lib/constructs/cutover-function.ts), so
 * that no function imports the specs' sources or zod, and a change to one migration's spec
 * rebuilds only that migration's functions.
 *
 * Run from source instead of a bundle (tests, the local rehearsal, the bench), the host hands the
 * specs over with {@link registerSpecs}.
 */
import { ConfigurationError, functionEnv, RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';

/** The name esbuild replaces with the spec's JSON in a function's bundle. */
export const BUNDLED_SPEC_DEFINE = 'CUTOVER_BUNDLED_SPEC';
declare const CUTOVER_BUNDLED_SPEC: MigrationSpec | undefined;

const registered = new Map<string, MigrationSpec>();

/** Specs for functions run from source (not bundled), by name. */
export function registerSpecs(specs: Iterable<MigrationSpec>): void {
  for (const s of specs) registered.set(s.name, s);
}

/**
 * The spec named by `CUTOVER_MIGRATION`: the bundled one, or (from source) a registered one.
 * @throws ConfigurationError when there is none, or the bundle carries another migration's
 */
export function specFromEnv(env: NodeJS.ProcessEnv = functionEnv()): MigrationSpec {
  const name = requiredEnv(RUNTIME_ENV.migration, env);
  const bundled = typeof CUTOVER_BUNDLED_SPEC === 'undefined' ? undefined : CUTOVER_BUNDLED_SPEC;
  const spec = bundled ?? registered.get(name);
  if (!spec) throw new ConfigurationError(`${RUNTIME_ENV.migration}="${name}" names no bundled migration`);
  if (spec.name !== name)
    throw new ConfigurationError(
      `${RUNTIME_ENV.migration}="${name}" but this function bundles "${spec.name}"`,
    );
  return spec;
}
