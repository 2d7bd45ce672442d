import { describe, expect, it } from 'vitest';
import { editToken, trafficPlan } from '../../lib/rehearse/admin-edits.js';
import magento from '../../migrations/magento.js';

const labels = (xs: readonly { label: string; kind: string }[]) => xs.map((x) => `${x.label}:${x.kind}`);

describe('the rehearsal traffic plan, from the spec', () => {
  it('catalog: Magento sets EAV name and price and stock qty; the service leaves the admin-policy price alone', () => {
    const plan = trafficPlan(magento, 'catalog');
    expect(plan.entities.map((e) => e.name)).toEqual(['product', 'stock']);
    expect(labels(plan.legacy)).toEqual(['product.name:set', 'product.price:set', 'stock.qty:set']);
    expect(labels(plan.service)).toEqual(['product.name:set', 'stock.qty:set']);
    expect(plan.skipped).toEqual([]);
  });

  it('order: orders with their customer (the customer service, before it, stood in for), coupons counted on both sides, the coupon rule left to Magento', () => {
    const plan = trafficPlan(magento, 'order');
    expect(plan.entities.map((e) => e.name)).toEqual(['order', 'coupon']);
    expect(plan.referenced.map((e) => e.name)).toEqual(['customer']);
    const order = [
      'order.state:set',
      'order.status:set',
      'order.incrementId:set',
      'order.customerId:reference',
      'order.grandTotal:set',
    ];
    expect(labels(plan.legacy)).toEqual([...order, 'coupon.code:set', 'coupon.timesUsed:increment']);
    expect(labels(plan.service)).toEqual([...order, 'coupon.code:set', 'coupon.timesUsed:increment']);
    expect(plan.skipped).toEqual([]);
  });

  it('an entity referencing a later service is left out: nothing migrated it yet', () => {
    const reordered = {
      ...magento,
      services: [magento.services[2]!, magento.services[0]!, magento.services[1]!],
    };
    const plan = trafficPlan(reordered, 'order');
    expect(plan.entities.map((e) => e.name)).toEqual(['coupon']);
    expect(plan.referenced).toEqual([]);
    expect(plan.skipped).toEqual([
      {
        entity: 'order',
        reason: 'field customerId references customer, an entity of a service rolled out after order',
      },
    ]);
  });

  it('customer: names, not the email', () => {
    expect(labels(trafficPlan(magento, 'customer').legacy)).toEqual([
      'customer.firstName:set',
      'customer.lastName:set',
    ]);
  });

  it('tokens are unique per edit and in the field type (decimals at the field scale, as events carry them)', () => {
    const price = magento.services[1]!.entities[0]!.fields.find((f) => f.name === 'price')!;
    const name = magento.services[1]!.entities[0]!.fields.find((f) => f.name === 'name')!;
    expect(editToken(price, 'L', 'r1', 7)).toBe('100007.500000');
    expect(editToken(price, 'L', 'r1', 7, true)).toBe('100007.750000');
    expect(editToken(name, 'S', 'r1', 7)).toBe('Sr1x7');
    expect(editToken(name, 'L', 'r1', 7, true)).toBe('Lr1x7b');
  });
});
