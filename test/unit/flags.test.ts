import { describe, expect, it } from 'vitest';
import {
  deployedDocument,
  effectiveFlags,
  FlagError,
  flagStateOf,
  initialFlags,
  parseFeatureFlagsDocument,
  type ServiceFlags,
  serviceFlagsOf,
  toFeatureFlagsDocument,
  withServiceFlags,
} from '../../lambdas/domain/flags.js';
import { magento, menu } from '../../migrations/index.js';
import { FakeAppConfig } from '../support/fake-appconfig.js';

const canary: ServiceFlags = {
  read: { enabled: true, percentage: 25 },
  write: { enabled: true, mode: 'shadow' },
};

describe('Domain: flags', () => {
  it('generates a read and a write flag per service, all at 0 % / legacy, with constraints', () => {
    const doc = toFeatureFlagsDocument(magento, initialFlags(magento));
    expect(doc.version).toBe('1');
    expect(Object.keys(doc.flags).sort()).toEqual([
      'catalog_read',
      'catalog_write',
      'customer_read',
      'customer_write',
      'order_read',
      'order_write',
    ]);
    expect(doc.flags['customer_read']!.attributes['percentage']!.constraints).toEqual({
      type: 'number',
      minimum: 0,
      maximum: 100,
      required: true,
    });
    expect(doc.flags['order_write']!.attributes['mode']!.constraints).toEqual({
      type: 'string',
      enum: ['legacy', 'shadow', 'primary'],
      required: true,
    });
    expect(doc.values['catalog_read']).toEqual({ enabled: false, percentage: 0 });
    expect(doc.values['catalog_write']).toEqual({ enabled: false, mode: 'legacy' });
  });

  it('round-trips through JSON text', () => {
    const doc = toFeatureFlagsDocument(menu, { menu: canary });
    const parsed = parseFeatureFlagsDocument(JSON.stringify(doc));
    expect(serviceFlagsOf(parsed, 'menu')).toEqual(canary);
    expect(flagStateOf(parsed)).toEqual({ menu: canary });
  });

  it('changes only the named service', () => {
    const doc = toFeatureFlagsDocument(magento, initialFlags(magento));
    const next = withServiceFlags(doc, 'catalog', canary);
    expect(serviceFlagsOf(next, 'catalog')).toEqual(canary);
    expect(next.values['customer_read']).toBe(doc.values['customer_read']);
    expect(next.values['order_write']).toBe(doc.values['order_write']);
    expect(next.flags).toBe(doc.flags);
    // the input is not mutated
    expect(serviceFlagsOf(doc, 'catalog').read.percentage).toBe(0);
  });

  it.each([
    [{ ...canary, read: { enabled: true, percentage: 101 } }, 'catalog.read.percentage'],
    [{ ...canary, read: { enabled: true, percentage: -1 } }, 'catalog.read.percentage'],
    [{ ...canary, read: { enabled: true, percentage: Number.NaN } }, 'catalog.read.percentage'],
    [{ ...canary, write: { enabled: true, mode: 'both' } }, 'catalog.write.mode'],
  ])('rejects out-of-range values (%j)', (flags, path) => {
    const doc = toFeatureFlagsDocument(magento, initialFlags(magento));
    expect(() => withServiceFlags(doc, 'catalog', flags as ServiceFlags)).toThrow(path);
    expect(() => toFeatureFlagsDocument(magento, { catalog: flags as ServiceFlags })).toThrow(FlagError);
  });

  it('rejects unknown services', () => {
    const doc = toFeatureFlagsDocument(menu, initialFlags(menu));
    expect(() => withServiceFlags(doc, 'payments', canary)).toThrow('no flags for service "payments"');
    expect(() => toFeatureFlagsDocument(menu, { payments: canary })).toThrow('unknown service "payments"');
  });

  it('rejects documents the console could have broken', () => {
    const doc = toFeatureFlagsDocument(menu, initialFlags(menu));
    const badValue = { ...doc, values: { ...doc.values, menu_write: { enabled: true, mode: 'PRIMARY' } } };
    expect(() => parseFeatureFlagsDocument(badValue)).toThrow('values[menu].write.mode');
    const { menu_write: _w, ...flags } = doc.flags;
    expect(() => parseFeatureFlagsDocument({ ...doc, flags })).toThrow('flags.menu_write is missing');
    expect(() => parseFeatureFlagsDocument({ ...doc, version: '2' })).toThrow('version must be "1"');
    expect(() => parseFeatureFlagsDocument('{not json')).toThrow('document is not JSON');
  });

  it('treats a disabled flag as 0 % / legacy', () => {
    expect(effectiveFlags({ ...canary, read: { enabled: false, percentage: 50 } })).toEqual({
      readPercentage: 0,
      writeMode: 'shadow',
    });
    expect(effectiveFlags({ ...canary, write: { enabled: false, mode: 'primary' } }).writeMode).toBe(
      'legacy',
    );
  });
});

describe('Fake: AppConfig port', () => {
  it('behaves like AppConfig: one deployment at a time, a stopped one rolls back after a delay', async () => {
    const clock = { t: Date.parse('2026-11-25T10:00:00Z') };
    const initial = toFeatureFlagsDocument(menu, initialFlags(menu));
    const port = new FakeAppConfig(initial, { now: () => clock.t, rollbackDelayMs: 3_000 });
    const v2 = await port.createVersion(withServiceFlags(initial, 'menu', canary));
    const id = await port.startDeployment(v2, 'gradual');
    expect((await port.activeDeployment())?.id).toBe(id);
    await expect(port.startDeployment(v2, 'rollback')).rejects.toMatchObject({
      name: 'ConflictException',
      $metadata: { httpStatusCode: 409 },
    });
    // not yet deployed: clients still get version 1
    expect(serviceFlagsOf((await deployedDocument(port)).document, 'menu').read.percentage).toBe(0);
    port.advance(id); // BAKING: AppConfig stops it only with AllowRevert, which the adapter sends
    await port.stopDeployment(id);
    expect((await port.getDeployment(id)).state).toBe('ROLLING_BACK');
    // still one deployment at a time while it rolls back
    await expect(port.startDeployment(v2, 'rollback')).rejects.toMatchObject({ name: 'ConflictException' });
    clock.t += 2_999;
    expect((await port.getDeployment(id)).state).toBe('ROLLING_BACK');
    clock.t += 1;
    expect((await port.getDeployment(id)).state).toBe('ROLLED_BACK');
    const id3 = await port.startDeployment(v2, 'gradual');
    expect(port.advance(id3)).toBe('BAKING');
    expect(port.advance(id3)).toBe('COMPLETE');
    expect((await deployedDocument(port)).version).toBe(v2);
  });

  it('pages the deployment history as ListDeployments does (50 at a time, NextToken)', async () => {
    const initial = toFeatureFlagsDocument(menu, initialFlags(menu));
    const port = new FakeAppConfig(initial, { autoComplete: true });
    for (let i = 0; i < 120; i++) await port.startDeployment(1, 'gradual');
    const ids: string[] = [];
    for await (const d of port.deploymentHistory()) ids.push(d.id);
    expect(ids).toHaveLength(121);
    expect(ids[0]).toBe('121');
    expect(ids.at(-1)).toBe('1');
    expect(port.commands.filter((c) => c === 'ListDeployments')).toHaveLength(3);
  });

  it('refuses a document AppConfig would reject', async () => {
    const initial = toFeatureFlagsDocument(menu, initialFlags(menu));
    const port = new FakeAppConfig(initial);
    const bad = { ...initial, values: { ...initial.values, menu_read: { enabled: true, percentage: 150 } } };
    await expect(port.createVersion(bad)).rejects.toThrow(FlagError);
  });
});
