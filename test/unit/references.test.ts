import { describe, expect, it } from 'vitest';
import {
  assertLegacyCreate,
  CreateRefusedError,
  referencesToLegacy,
  referencesToService,
} from '../../lambdas/domain/references.js';
import { defineMigration, entityByName, type MigrationSpecInput } from '../../lib/spec/schema.js';

const spec = defineMigration({
  name: 'shop',
  description: 'test',
  legacy: { kind: 'mysql', secretName: 's', database: 'magento' },
  services: [
    {
      name: 'sales',
      risk: 'low',
      serviceUrl: 'https://svc.example.com',
      legacyUrl: 'https://legacy.example.com',
      entities: [
        {
          name: 'customer',
          legacy: { table: 'customer_entity', key: 'entity_id' },
          target: { key: 'customerId' },
          policy: 'timestamp',
          consistency: 'strong',
          fields: [{ name: 'email', type: 'string', column: 'email' }],
        },
        {
          name: 'order',
          legacy: { table: 'sales_order', key: 'entity_id' },
          target: { key: 'orderId' },
          policy: 'timestamp',
          consistency: 'strong',
          fields: [
            { name: 'customerId', type: 'string', column: 'customer_id', references: { entity: 'customer' } },
            { name: 'state', type: 'string', column: 'state' },
          ],
          create: { legacy: false, reason: 'orders are placed in Magento only' },
        },
      ],
    },
  ],
} satisfies MigrationSpecInput);
const order = entityByName(spec, 'order').entity;

describe('Function: references', () => {
  it('translates reference fields through the referenced entity, leaving other fields and nulls alone', async () => {
    const asked: string[] = [];
    const toService = await referencesToService(
      spec,
      order,
      { customerId: '501', state: 'new' },
      async (ref, k) => {
        asked.push(`${ref.name}:${k}`);
        return k === '501' ? 'cus-abc' : undefined;
      },
    );
    expect(toService).toEqual({ customerId: 'cus-abc', state: 'new' });
    expect(asked).toEqual(['customer:501']);
    // Not mapped: a record born on the legacy side keeps its key.
    expect(await referencesToService(spec, order, { customerId: '42' }, async () => undefined)).toEqual({
      customerId: '42',
    });
    expect(
      await referencesToLegacy(spec, order, { customerId: 'cus-abc', state: null }, async (_ref, k, via) => {
        expect(via).toBe('customerId');
        return k === 'cus-abc' ? '501' : 'never';
      }),
    ).toEqual({ customerId: '501', state: null });
    expect(await referencesToLegacy(spec, order, { customerId: null }, async () => 'never')).toEqual({
      customerId: null,
    });
  });

  it('refuses a create the spec does not allow, with its reason', () => {
    expect(() => assertLegacyCreate(order, 'ord-1', { state: 'new' })).toThrow(CreateRefusedError);
    expect(() => assertLegacyCreate(order, 'ord-1', { state: 'new' })).toThrow(
      'order ord-1: cannot be created on the legacy side: the spec allows no creates there (orders are placed in Magento only)',
    );
    expect(() => assertLegacyCreate(entityByName(spec, 'customer').entity, 'c-1', {})).not.toThrow();
  });

  it('refuses a create without the fields the legacy row requires, naming them', () => {
    const coupon = {
      ...order,
      name: 'coupon',
      create: { legacy: true, legacyRequires: ['customerId', 'state'], reason: 'needs both' },
    };
    expect(() => assertLegacyCreate(coupon, 'c-9', { customerId: 'x', state: null })).toThrow(
      'coupon c-9: cannot be created on the legacy side: missing state (needs both)',
    );
    expect(() => assertLegacyCreate(coupon, 'c-9', { customerId: 'x', state: 'new' })).not.toThrow();
  });
});
