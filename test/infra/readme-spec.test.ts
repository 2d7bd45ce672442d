/**
 * The README's "Writing a spec" example is real: its code block is extracted, validated by
 * `defineMigration` and synthesized (with cdk-nag), and its error example is the message the
 * schema really gives for those two mistakes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import {
  defineMigration,
  type MigrationSpec,
  type MigrationSpecInput,
  SpecError,
} from '../../lib/spec/schema.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const SCHEMA = pathToFileURL(new URL('../../lib/spec/schema.ts', import.meta.url).pathname).href;

/** The fenced blocks of the README's "Writing a spec" section, in order. */
function blocks(lang: string): string[] {
  const section = README.slice(README.indexOf('## Writing a spec'));
  const end = section.indexOf('\n## ', 3);
  const body = end > 0 ? section.slice(0, end) : section;
  return [...body.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}

async function readmeSpec(): Promise<MigrationSpec> {
  const code = blocks('ts')[0]!;
  expect(code).toContain("from '../lib/spec/schema.js'");
  const dir = mkdtempSync(join(tmpdir(), 'cutover-readme-'));
  const file = join(dir, 'shop.ts');
  writeFileSync(file, code.replace("'../lib/spec/schema.js'", `'${SCHEMA}'`));
  return ((await import(pathToFileURL(file).href)) as { default: MigrationSpec }).default;
}

describe('README: Writing a spec', () => {
  it('the example validates and synthesizes (cdk-nag clean)', async () => {
    const spec = await readmeSpec();
    expect(spec.name).toBe('shop');
    const built = buildApp({
      env: 'dev',
      outdir: mkdtempSync(join(tmpdir(), 'cutover-readme-out-')),
      context: { 'aws:cdk:bundling-stacks': [] },
      migrations: [spec],
    });
    const assembly = built.app.synth();
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual([
      'cutover-dev-platform',
      'cutover-dev-shop-catalog',
    ]);
  }, 120_000);

  it('the error example is the message the schema gives', async () => {
    const input = structuredClone(await readmeSpec()) as unknown as MigrationSpecInput & Record<string, any>;
    delete input.services[0]!.entities[0]!.fields[1]!.scale;
    input.services[0]!.rollout = { canarySteps: [10, 50, 25, 100], bakeMinutes: 30 };
    const error = (() => {
      try {
        defineMigration(input);
      } catch (e) {
        return e;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).message).toBe(blocks('')[0]!.trimEnd());
  });
});
