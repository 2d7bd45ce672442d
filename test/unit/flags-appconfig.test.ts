/**
 * The AppConfig adapter (requests it sends, answers it maps) and the flag-profile validator
 * Lambda. The AppConfig client is replaced by a recorder: nothing reaches AWS.
 */
import type { AppConfigClient } from '@aws-sdk/client-appconfig';
import { describe, expect, it } from 'vitest';
import { AppConfigFlagStore, appConfigPortFromEnv } from '../../lambdas/adapters/appconfig.js';
import {
  FlagError,
  initialFlags,
  toFeatureFlagsDocument,
  withServiceFlags,
} from '../../lambdas/domain/flags.js';
import { validateFlagsContent } from '../../lambdas/handlers/flags-validator.js';
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { magento, menu } from '../../migrations/index.js';

type Sent = { name: string; input: Record<string, unknown> };

function recorder(answers: Record<string, (input: Record<string, unknown>) => unknown>) {
  const sent: Sent[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      sent.push({ name, input: command.input });
      const answer = answers[name];
      if (!answer) throw new Error(`unexpected ${name}`);
      return answer(command.input);
    },
  } as unknown as AppConfigClient;
  const store = new AppConfigFlagStore({
    applicationId: 'app1',
    environmentId: 'env1',
    profileId: 'prof1',
    strategies: { gradual: 'strat-g', rollback: 'strat-r' },
    client,
  });
  return { store, sent };
}

const doc = toFeatureFlagsDocument(menu, initialFlags(menu));
const bytes = (d: unknown) => new TextEncoder().encode(JSON.stringify(d));

describe('Adapter: AppConfigFlagStore', () => {
  it('creates a validated hosted version and deploys it with the named strategy', async () => {
    const { store, sent } = recorder({
      CreateHostedConfigurationVersion: () => ({ VersionNumber: 7 }),
      StartDeployment: () => ({ DeploymentNumber: 12 }),
    });
    const next = withServiceFlags(doc, 'menu', {
      read: { enabled: true, percentage: 10 },
      write: { enabled: true, mode: 'shadow' },
    });
    expect(await store.createVersion(next, 'menu: 10 %')).toBe(7);
    expect(await store.startDeployment(7, 'rollback', 'rollback menu')).toBe('12');
    expect(sent[0]).toMatchObject({
      name: 'CreateHostedConfigurationVersion',
      input: { ApplicationId: 'app1', ConfigurationProfileId: 'prof1', ContentType: 'application/json' },
    });
    expect(JSON.parse(new TextDecoder().decode(sent[0]!.input['Content'] as Uint8Array))).toEqual(next);
    expect(sent[1]).toMatchObject({
      name: 'StartDeployment',
      input: {
        ApplicationId: 'app1',
        EnvironmentId: 'env1',
        ConfigurationProfileId: 'prof1',
        ConfigurationVersion: '7',
        DeploymentStrategyId: 'strat-r',
      },
    });
  });

  it('refuses to store a document that breaks the model', async () => {
    const { store, sent } = recorder({});
    const bad = { ...doc, values: { ...doc.values, menu_read: { enabled: true, percentage: 140 } } };
    await expect(store.createVersion(bad)).rejects.toThrow(FlagError);
    expect(sent).toEqual([]);
  });

  it('lists deployments newest first, with their strategy and state', async () => {
    const details: Record<number, Record<string, unknown>> = {
      3: { DeploymentStrategyId: 'strat-r', State: 'COMPLETE', ConfigurationVersion: '5' },
      4: { DeploymentStrategyId: 'strat-g', State: 'BAKING', ConfigurationVersion: '6' },
      2: { DeploymentStrategyId: 'hand-made', State: 'ROLLED_BACK', ConfigurationVersion: '4' },
    };
    const { store } = recorder({
      ListDeployments: () => ({
        Items: [2, 4, 3].map((n) => ({ DeploymentNumber: n, State: details[n]!['State'] })),
      }),
      GetDeployment: (input) => ({
        DeploymentNumber: input['DeploymentNumber'],
        StartedAt: new Date('2026-11-25T10:00:00Z'),
        ...details[input['DeploymentNumber'] as number],
      }),
    });
    const list = await store.listDeployments(10);
    expect(list.map((d) => [d.id, d.version, d.state, d.strategy])).toEqual([
      ['4', 6, 'BAKING', 'gradual'],
      ['3', 5, 'COMPLETE', 'rollback'],
      ['2', 4, 'ROLLED_BACK', 'other'],
    ]);
    expect((await store.activeDeployment())?.id).toBe('4');
  });

  it('reads and parses hosted versions', async () => {
    const { store, sent } = recorder({
      ListHostedConfigurationVersions: () => ({ Items: [{ VersionNumber: 9 }] }),
      GetHostedConfigurationVersion: () => ({ Content: bytes(doc) }),
    });
    expect(await store.latestVersion()).toEqual({ version: 9, document: doc });
    expect(sent[1]).toMatchObject({ name: 'GetHostedConfigurationVersion', input: { VersionNumber: 9 } });
  });

  it('is configured from the RUNTIME_ENV variables the stack sets', () => {
    expect(() => appConfigPortFromEnv({})).toThrow(RUNTIME_ENV.appConfigApplicationId);
  });
});

describe('Function: flags validator', () => {
  const b64 = (d: unknown) => Buffer.from(JSON.stringify(d)).toString('base64');

  it('accepts the generated document and valid changes', () => {
    const d = toFeatureFlagsDocument(magento, initialFlags(magento));
    expect(() => validateFlagsContent(magento, b64(d))).not.toThrow();
    const changed = withServiceFlags(d, 'order', {
      read: { enabled: true, percentage: 100 },
      write: { enabled: true, mode: 'primary' },
    });
    expect(() => validateFlagsContent(magento, b64(changed))).not.toThrow();
  });

  it('rejects flags of another migration, missing flags and bad values', () => {
    expect(() => validateFlagsContent(magento, b64(doc))).toThrow('flags.customer_read is missing');
    expect(() =>
      validateFlagsContent(menu, b64(toFeatureFlagsDocument(magento, initialFlags(magento)))),
    ).toThrow('not a flag of the menu migration');
    const bad = { ...doc, values: { ...doc.values, menu_write: { enabled: true, mode: 'both' } } };
    expect(() => validateFlagsContent(menu, b64(bad))).toThrow('mode must be one of legacy, shadow, primary');
    expect(() => validateFlagsContent(menu, 'not base64 json')).toThrow(FlagError);
  });
});
