/**
 * Runs an entry as a function runs its handler: bundled with the functions' esbuild options
 * (`BUNDLING`, lib/constructs/cutover-function.ts), then executed in a fresh Node process with
 * the given environment (and PATH, nothing else). For the tests that check what a bundle does,
 * not only what it contains.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLING, esbuildOptions } from '../../lib/constructs/cutover-function.js';

/** How the bundled entry's process ended, and what it printed. */
export interface BundledRun {
  readonly status: number | null;
  readonly stderr: string;
  readonly stdout: string;
}

/** Bundles `entry` (an absolute path) with the functions' options and runs it with `env`. */
export async function runBundled(entry: string, env: Record<string, string>): Promise<BundledRun> {
  const out = mkdtempSync(join(tmpdir(), 'cutover-bundled-run-'));
  try {
    const outfile = join(out, 'index.mjs');
    await build(esbuildOptions(entry, outfile, BUNDLING));
    const child = spawn(process.execPath, [outfile], { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const status = await new Promise<number | null>((r) => child.on('close', r));
    return { status, stderr, stdout };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
