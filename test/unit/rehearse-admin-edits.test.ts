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

  it('order: coupons counted on both sides, the coupon rule left to Magento, orders left out with the reason', () => {
    const plan = trafficPlan(magento, 'order');
    expect(plan.entities.map((e) => e.name)).toEqual(['coupon']);
    expect(labels(plan.legacy)).toEqual(['coupon.code:set', 'coupon.timesUsed:increment']);
    expect(labels(plan.service)).toEqual(['coupon.code:set', 'coupon.timesUsed:increment']);
    expect(plan.skipped).toEqual([
      { entity: 'order', reason: 'field customerId references customer, an entity of another service' },
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
