/**
 * Restaurant Service → Menu Service (seed 004, "Menu Service - 5-Phase Migration Plan").
 *
 * The legacy side is the Restaurant Service's REST API. Thresholds are the seed's: canary
 * 10/25/50/75/100 with one step a day, error rate < 0.1 %, p95 < 200 ms, dual-write success
 * > 99.9 %, consistency > 99.99 %; sync lag < 5 min (eventual).
 */
import { defineMigration } from '../lib/spec/schema.js';

export default defineMigration({
  name: 'menu',
  description: 'Menu data moves from the Restaurant Service to the Menu Service',
  legacy: {
    kind: 'http',
    baseUrl: 'https://restaurant-service.internal.example.com/api/v1',
    tokenSecretName: 'restaurant-service-token',
    timeoutMs: 2000,
    maxRetries: 3,
  },
  services: [
    {
      name: 'menu',
      description: 'Menu Service',
      risk: 'medium',
      serviceUrl: 'https://menu-service.internal.example.com',
      legacyUrl: 'https://restaurant-service.internal.example.com',
      routes: [
        { method: 'GET', pathPrefix: '/menus', access: 'read' },
        { method: 'GET', pathPrefix: '/menu-items', access: 'read' },
        { method: 'ANY', pathPrefix: '/menus', access: 'write' },
        { method: 'ANY', pathPrefix: '/menu-items', access: 'write' },
      ],
      entities: [
        {
          name: 'menu_item',
          legacy: { path: '/menu-items', key: 'id', versionProperty: 'version', updatedAt: 'updatedAt' },
          target: { key: 'menuItemId', keyType: 'string' },
          policy: 'timestamp',
          consistency: 'eventual',
          serviceEvents: ['menu_item.updated'],
          fields: [
            { name: 'restaurantId', type: 'string', nullable: false },
            { name: 'name', type: 'string', nullable: false },
            { name: 'description', type: 'string' },
            { name: 'price', type: 'decimal', scale: 2, nullable: false },
            { name: 'currency', type: 'string' },
            { name: 'available', type: 'boolean' },
            { name: 'category', type: 'string' },
          ],
        },
      ],
      rollout: {
        canarySteps: [10, 25, 50, 75, 100],
        // One canary step a day, as in the seed (Day 1: 10 % … Day 5: 100 %).
        canaryBakeMinutes: 1440,
        bakeMinutes: 60,
        gates: { maxErrorRate: 0.001, maxP95Ms: 200, minConsistency: 0.9999, minDualWriteSuccess: 0.999 },
      },
    },
  ],
  sync: { pollerIntervalMinutes: 5, eventualBatchingWindowSeconds: 10 },
});
