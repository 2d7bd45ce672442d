import { describe, expect, it } from 'vitest';
import {
  defineMigration,
  type MigrationSpecInput,
  pollerLagBoundSeconds,
  SpecError,
} from '../../lib/spec/schema.js';
import { magento, menu, migrations } from '../../migrations/index.js';

const base = (): MigrationSpecInput => ({
  name: 'shop',
  description: 'test',
  legacy: { kind: 'mysql', secretName: 's', database: 'magento' },
  services: [
    {
      name: 'customer',
      risk: 'low',
      serviceUrl: 'https://svc.example.com',
      legacyUrl: 'https://legacy.example.com',
      entities: [
        {
          name: 'customer',
          legacy: { table: 'customer_entity', key: 'entity_id', updatedAt: 'updated_at' },
          target: { key: 'customerId' },
          policy: 'timestamp',
          consistency: 'strong',
          fields: [{ name: 'email', type: 'string', column: 'email' }],
        },
      ],
    },
  ],
});

function issuesOf(mutate: (s: any) => void): { path: string; message: string }[] {
  const spec = base() as any;
  mutate(spec);
  try {
    defineMigration(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return [...(e as SpecError).issues];
  }
  throw new Error('spec was accepted');
}

describe('Function: defineMigration', () => {
  it('accepts a minimal spec and fills in the seeds’ defaults', () => {
    const spec = defineMigration(base());
    const rollout = spec.services[0]!.rollout;
    expect(rollout.canarySteps).toEqual([10, 25, 50, 75, 100]);
    expect(rollout.gates).toMatchObject({
      maxErrorRate: 0.001,
      maxP95Ms: 200,
      minConsistency: 0.9999,
      minDualWriteSuccess: 0.999,
    });
    expect(spec.alarms).toMatchObject({
      consistencyCritical: 0.999,
      p95WarningMs: 300,
      errorRateCritical: 0.005,
      strongLagSeconds: 5,
    });
    expect(spec.gateway.flagPollSeconds).toBeLessThanOrEqual(5);
    expect(spec.sync).toMatchObject({
      pollerIntervalMinutes: 1,
      pollerIntervalSeconds: 1,
      pollerSnapshotIntervalSeconds: 10,
      pollerOverlapSeconds: 2,
    });
    // 2 s overlap + the second of the change + 1 s interval: under the 5 s strong lag target.
    expect(pollerLagBoundSeconds(spec.sync)).toBe(4);
    expect(spec.services[0]!.entities[0]!.tieBreak).toBe('service');
  });

  it.each([
    [
      'a bad table name',
      (s: any) => (s.services[0].entities[0].legacy.table = 'customer; DROP TABLE x'),
      'services.customer.entities.customer.legacy.table',
    ],
    [
      'a column that is not an SQL identifier, by the names in the spec',
      (s: any) => (s.services[0].entities[0].fields[0].column = 'e-mail'),
      'services.customer.entities.customer.fields.email.column',
    ],
    [
      'an unknown policy',
      (s: any) => (s.services[0].entities[0].policy = 'newest'),
      'services.customer.entities.customer.policy',
    ],
    [
      'a decimal without scale',
      (s: any) => s.services[0].entities[0].fields.push({ name: 'price', type: 'decimal', column: 'price' }),
      'services.customer.entities.customer.fields.price.scale',
    ],
    [
      'a field without a column on mysql',
      (s: any) => s.services[0].entities[0].fields.push({ name: 'x', type: 'string' }),
      'services.customer.entities.customer.fields.x.column',
    ],
    ['duplicate services', (s: any) => s.services.push(structuredClone(s.services[0])), 'services[1].name'],
    [
      'canary steps not increasing',
      (s: any) => (s.services[0].rollout = { canarySteps: [10, 50, 25, 100] }),
      'services.customer.rollout.canarySteps[2]',
    ],
    [
      'canary steps not ending at 100',
      (s: any) => (s.services[0].rollout = { canarySteps: [10, 50] }),
      'services.customer.rollout.canarySteps[1]',
    ],
    [
      'a sum policy on a string field',
      (s: any) => (s.services[0].entities[0].policy = 'sum'),
      'services.customer.entities.customer.fields.email.policy',
    ],
    [
      'an http entity in a mysql migration',
      (s: any) => (s.services[0].entities[0].legacy = { path: '/x', key: 'id' }),
      'services.customer.entities.customer.legacy',
    ],
    [
      'an unknown property (typo)',
      (s: any) => (s.services[0].entities[0].consistencyy = 'strong'),
      'services.customer.entities.customer',
    ],
    [
      'a gateway poll interval above 5 s',
      (s: any) => (s.gateway = { flagPollSeconds: 45 }),
      'gateway.flagPollSeconds',
    ],
    [
      'a bad service URL',
      (s: any) => (s.services[0].serviceUrl = 'not a url'),
      'services.customer.serviceUrl',
    ],
    [
      'a route prefix not in normal form (no request path could match it)',
      (s: any) =>
        (s.services[0].routes = [{ method: 'GET', pathPrefix: '/customers/../admin', access: 'read' }]),
      'services.customer.routes[0].pathPrefix',
    ],
    [
      'a non-boolean canary override',
      (s: any) => (s.gateway = { canaryOverride: 'yes' }),
      'gateway.canaryOverride',
    ],
    [
      'EAV field without entity type',
      (s: any) =>
        s.services[0].entities[0].fields.push({
          name: 'n',
          type: 'string',
          eav: { attributeCode: 'name', backendType: 'varchar' },
        }),
      'services.customer.entities.customer.legacy.eavEntityType',
    ],
    [
      'a poller too slow for the strong lag target (2 s overlap + 1 s + 3 s interval >= 5 s)',
      (s: any) => (s.sync = { pollerIntervalSeconds: 3 }),
      'sync.pollerIntervalSeconds',
    ],
    [
      'a snapshot interval below the poll interval',
      (s: any) =>
        (s.sync = { pollerIntervalSeconds: 2, pollerOverlapSeconds: 1, pollerSnapshotIntervalSeconds: 1 }),
      'sync.pollerSnapshotIntervalSeconds',
    ],
    [
      'a snapshot interval beyond the eventual lag target',
      (s: any) => {
        s.services[0].entities[0].consistency = 'eventual';
        s.sync = { pollerSnapshotIntervalSeconds: 300 };
      },
      'sync.pollerSnapshotIntervalSeconds',
    ],
    [
      'a poller period longer than a Lambda can run (14 min)',
      (s: any) => (s.sync = { pollerIntervalMinutes: 15 }),
      'sync.pollerIntervalMinutes',
    ],
  ])('rejects %s, naming the field', (_what, mutate, path) => {
    const issues = issuesOf(mutate);
    expect(issues.map((i) => i.path)).toContain(path);
  });

  it('puts every bad field in the error message', () => {
    expect(() =>
      defineMigration({ ...base(), name: 'Bad Name', services: [] } as MigrationSpecInput),
    ).toThrowError(/name: must be lower snake_case[\s\S]*services: a migration needs at least one service/);
  });
});

describe('The bundled migrations', () => {
  it('magento: services in the seed’s order by risk, policies from the seed’s table', () => {
    expect(magento.services.map((s) => [s.name, s.risk])).toEqual([
      ['customer', 'low'],
      ['catalog', 'medium'],
      ['order', 'high'],
    ]);
    const entity = (n: string) => magento.services.flatMap((s) => s.entities).find((e) => e.name === n)!;
    expect(entity('customer').policy).toBe('timestamp');
    expect(entity('order').policy).toBe('service-wins');
    expect(entity('stock').policy).toBe('service-wins');
    expect(entity('product').policy).toBe('timestamp');
    expect(entity('product').fields.find((f) => f.name === 'price')).toMatchObject({
      policy: 'admin',
      scale: 6,
      eav: { attributeCode: 'price', backendType: 'decimal' },
    });
    expect(entity('coupon').policy).toBe('sum');
    expect(entity('coupon').fields.find((f) => f.name === 'timesUsed')!.column).toBe('times_used');
  });

  it('menu: an http legacy side and the menu seed’s thresholds', () => {
    expect(menu.legacy.kind).toBe('http');
    expect(menu.services[0]!.rollout).toMatchObject({
      canarySteps: [10, 25, 50, 75, 100],
      gates: { maxErrorRate: 0.001, maxP95Ms: 200 },
    });
    expect(migrations.map((m) => m.name)).toEqual(['magento', 'menu']);
  });

  describe('references and create rules', () => {
    const withOrder = (mutateOrder: (o: any) => void) => (s: any) => {
      const order = {
        name: 'order',
        legacy: { table: 'sales_order', key: 'entity_id', updatedAt: 'updated_at' },
        target: { key: 'orderId' },
        policy: 'service-wins',
        consistency: 'strong',
        fields: [
          { name: 'customerId', type: 'string', column: 'customer_id', references: { entity: 'customer' } },
        ],
      };
      mutateOrder(order);
      s.services[0].entities.push(order);
    };

    it('accepts a field referencing another entity and a key referencing another entity', () => {
      const spec = base() as any;
      withOrder(() => {})(spec);
      spec.services[0].entities.push({
        name: 'loyalty',
        legacy: { table: 'loyalty', key: 'customer_id', keyReferences: 'customer' },
        target: { key: 'customerId' },
        policy: 'timestamp',
        consistency: 'strong',
        fields: [{ name: 'points', type: 'integer', column: 'points' }],
      });
      expect(() => defineMigration(spec)).not.toThrow();
    });

    it('rejects a reference to an unknown entity, naming the field', () => {
      expect(
        issuesOf(
          withOrder((o) => {
            o.fields[0].references.entity = 'shopper';
          }),
        ),
      ).toEqual([
        {
          path: 'services.customer.entities.order.fields.customerId.references.entity',
          message: 'field "customerId" references unknown entity "shopper"',
        },
      ]);
    });

    it('rejects a reference whose type cannot hold the referenced key, and a counter that references', () => {
      expect(
        issuesOf(
          withOrder((o) => {
            o.fields[0].type = 'integer';
          }),
        ),
      ).toEqual([
        {
          path: 'services.customer.entities.order.fields.customerId.type',
          message: 'field "customerId" holds customer keys (keyType string): its type must be string',
        },
      ]);
    });

    it('rejects a key referencing an unknown entity, itself, or an entity of another key type', () => {
      const keyed = (keyReferences: string, keyType = 'string') =>
        withOrder((o) => {
          o.legacy.keyReferences = keyReferences;
          o.target.keyType = keyType;
        });
      expect(issuesOf(keyed('shopper'))).toEqual([
        {
          path: 'services.customer.entities.order.legacy.keyReferences',
          message: 'the key references unknown entity "shopper"',
        },
      ]);
      expect(issuesOf(keyed('order'))[0]?.path).toBe('services.customer.entities.order.legacy.keyReferences');
      expect(issuesOf(keyed('customer', 'number'))).toEqual([
        {
          path: 'services.customer.entities.order.target.keyType',
          message: 'the key is a customer key: its keyType must be string',
        },
      ]);
    });

    it('rejects create rules that require a field the entity does not have, and create rules without a reason', () => {
      expect(
        issuesOf(
          withOrder((o) => {
            o.create = { legacyRequires: ['storeId'], reason: 'orders need a store' };
          }),
        ),
      ).toEqual([
        {
          path: 'services.customer.entities.order.create.legacyRequires[0]',
          message: '"storeId" is not a field of order',
        },
      ]);
      expect(
        issuesOf(
          withOrder((o) => {
            o.create = { legacy: false };
          }),
        ).map((i) => i.path),
      ).toEqual(['services.customer.entities.order.create.reason']);
    });

    it('the bundled magento spec declares stock -> product, order -> customer and the coupon create rule', () => {
      const entities = magento.services.flatMap((s) => s.entities);
      const byName = (n: string) => entities.find((e) => e.name === n)!;
      expect((byName('stock').legacy as { keyReferences?: string }).keyReferences).toBe('product');
      expect(byName('order').fields.find((f) => f.name === 'customerId')?.references).toEqual({
        entity: 'customer',
      });
      expect(byName('coupon').create).toMatchObject({ legacy: true, legacyRequires: ['ruleId'] });
    });
  });
});
