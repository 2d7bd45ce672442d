/**
 * What cdk.json and the specs may say, and how a mistake is reported: any environment named in
 * cdk.json, its own account and region; two migrations that would share bus events are refused;
 * a configuration error prints its message without a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';
import { reportConfigurationErrors } from '../../lib/cli/config-errors.js';
import { busDetailTypes, MigrationOverlapError } from '../../lib/spec/overlap.js';
import { defineMigration, type MigrationSpecInput } from '../../lib/spec/schema.js';
import { cdkJsonContext } from '../../lib/stacks/settings.js';
import { magento, migrations } from '../../migrations/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const noBundling = { 'aws:cdk:bundling-stacks': [] };

/** A second migration with an entity `customer`, as a new user would write it. */
const shop = (entity = 'customer'): MigrationSpecInput => ({
  name: 'shop',
  description: 'a second shop',
  legacy: { kind: 'http', baseUrl: 'https://legacy.example.com' },
  services: [
    {
      name: 'accounts',
      risk: 'low',
      serviceUrl: 'https://accounts.example.com',
      legacyUrl: 'https://legacy.example.com',
      entities: [
        {
          name: entity,
          legacy: { path: '/customers', key: 'id' },
          target: { key: 'id' },
          policy: 'timestamp',
          consistency: 'strong',
          fields: [{ name: 'email', type: 'string' }],
        },
      ],
    },
  ],
});

describe('App: environments', () => {
  it('accepts any environment named in cdk.json, with its own account and region', () => {
    const environments = {
      ...(cdkJsonContext()['environments'] as object),
      qa: {
        account: '111122223333',
        region: 'eu-central-1',
        logRetentionDays: 7,
        archiveRetentionDays: 3,
        decommissionArchiveDays: 7,
        createVpc: true,
      },
    };
    const built = buildApp({ env: 'qa', context: { environments, ...noBundling }, nag: false });
    expect(built.platform.stackName).toBe('cutover-qa-platform');
    for (const stack of [built.platform, ...built.services]) {
      expect([stack.account, stack.region]).toEqual(['111122223333', 'eu-central-1']);
    }
    expect(built.services.map((s) => s.stackName)).toContain('cutover-qa-magento-customer');
  });

  it('names the environments cdk.json has when the one asked for is not there', () => {
    expect(() => buildApp({ env: 'uat' })).toThrow(
      'Unknown environment "uat": cdk.json context.environments names dev, staging, prod',
    );
  });
});

describe('App: migrations on one bus', () => {
  it('refuses a second migration with an entity "customer", naming both migrations and the entity', () => {
    const second = defineMigration(shop());
    // Without the check the rules would overlap: the same detail type on the same source.
    const shared = busDetailTypes(second).filter((d) =>
      busDetailTypes(magento).some((m) => m.detailType === d.detailType),
    );
    expect(shared.map((d) => d.detailType)).toContain('migration.customer.changed');
    const build = () => buildApp({ env: 'dev', migrations: [...migrations, second], context: noBundling });
    expect(build).toThrow(MigrationOverlapError);
    expect(build).toThrow(
      'Migrations "magento" and "shop" cannot share one environment: they both have an entity "customer", ' +
        `so their sync rules on the shared bus would consume each other's "migration.customer.changed" events.`,
    );
  });

  it('refuses an entity whose service events are another migration’s', () => {
    const input = shop('shopper') as any;
    input.services[0].entities[0].serviceEvents = ['customer.updated'];
    expect(() => buildApp({ env: 'dev', migrations: [magento, defineMigration(input)] })).toThrow(
      'they have entities "customer" and "shopper" that both emit "customer.updated"',
    );
  });

  it('accepts a second migration whose entities are its own', () => {
    expect(() =>
      buildApp({
        env: 'dev',
        migrations: [...migrations, defineMigration(shop('shopper'))],
        context: noBundling,
        nag: false,
      }),
    ).not.toThrow();
  });
});

describe('Configuration errors are printed without a stack trace', () => {
  it('a bad spec prints its message, naming the migration and each field by name', async () => {
    const lines: string[] = [];
    const bad = shop() as any;
    bad.services[0].entities[0].fields[0].type = 'text';
    await reportConfigurationErrors(
      async () => void defineMigration(bad),
      (l) => lines.push(l),
    );
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    expect(lines.join('\n')).toMatch(
      /^Invalid migration spec "shop" \(1 problem\):\n {2}- services\.accounts\.entities\.customer\.fields\.email\.type: /,
    );
    expect(lines.join('\n')).not.toMatch(/\n\s+at /);
  });

  it('a bug keeps its stack', async () => {
    await expect(reportConfigurationErrors(async () => void JSON.parse('{'))).rejects.toThrow(SyntaxError);
  });

  it('`cdk synth` (bin/app.ts) exits 1 with the message alone', () => {
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['bin/app.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'cutover-cli-')),
        CDK_CONTEXT_JSON: JSON.stringify({ env: 'uat', environments: cdkJsonContext()['environments'] }),
      },
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'Unknown environment "uat": cdk.json context.environments names dev, staging, prod; add "uat" there or use -c env=dev|staging|prod',
    );
  }, 60_000);
});
