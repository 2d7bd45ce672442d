/**
 * Magento 2 → microservices (seed 000, "Phase 2: Read-Write Migration").
 *
 * Services go in the seed's order, by risk: customer (low), catalog (medium), order (high).
 * Policies follow the seed's table: customer profile `timestamp`; order status `service-wins`;
 * stock qty `service-wins`; product price `admin` (other product fields `timestamp`);
 * coupon usage `sum`. Table and column names follow Magento 2.4's db_schema.xml
 * (docs/magento-schema.md). References between entities are declared so that the sync
 * translates them through the referenced entity's key map: stock is keyed by its product, an
 * order points at its customer; a coupon belongs to a Magento cart price rule (rules are not
 * migrated), so a coupon created in the service must carry its rule's id.
 */
import { defineMigration } from '../lib/spec/schema.js';

export default defineMigration({
  name: 'magento',
  description: 'Magento 2 store split into customer, catalog and order services',
  legacy: {
    kind: 'mysql',
    secretName: 'magento-db-creds',
    database: 'magento',
    timestampPrecisionMs: 1000,
  },
  services: [
    {
      name: 'customer',
      description: 'Customer Service (low risk, enabled first)',
      risk: 'low',
      serviceUrl: 'https://customer.internal.example.com',
      legacyUrl: 'https://magento.internal.example.com',
      routes: [
        { method: 'GET', pathPrefix: '/customers', access: 'read' },
        { method: 'ANY', pathPrefix: '/customers', access: 'write' },
      ],
      entities: [
        {
          name: 'customer',
          legacy: {
            table: 'customer_entity',
            key: 'entity_id',
            updatedAt: 'updated_at',
            insertDefaults: { website_id: 1, store_id: 1, group_id: 1 },
          },
          target: { key: 'customerId', keyType: 'string' },
          policy: 'timestamp',
          consistency: 'strong',
          serviceEvents: ['customer.updated'],
          fields: [
            { name: 'email', type: 'string', column: 'email', pii: true },
            { name: 'firstName', type: 'string', column: 'firstname', pii: true },
            { name: 'lastName', type: 'string', column: 'lastname', pii: true },
            { name: 'websiteId', type: 'integer', column: 'website_id' },
            { name: 'groupId', type: 'integer', column: 'group_id', nullable: false },
            { name: 'isActive', type: 'integer', column: 'is_active', nullable: false },
          ],
        },
      ],
      rollout: { bakeMinutes: 30, canaryBakeMinutes: 1440 },
    },
    {
      name: 'catalog',
      description: 'Catalog Service (medium risk)',
      risk: 'medium',
      serviceUrl: 'https://catalog.internal.example.com',
      legacyUrl: 'https://magento.internal.example.com',
      routes: [
        { method: 'GET', pathPrefix: '/products', access: 'read' },
        { method: 'ANY', pathPrefix: '/products', access: 'write' },
        { method: 'GET', pathPrefix: '/stock', access: 'read' },
        { method: 'ANY', pathPrefix: '/stock', access: 'write' },
      ],
      entities: [
        {
          name: 'product',
          legacy: {
            table: 'catalog_product_entity',
            key: 'entity_id',
            updatedAt: 'updated_at',
            eavEntityType: 'catalog_product',
            insertDefaults: { attribute_set_id: 4, type_id: 'simple' },
          },
          target: { key: 'productId', keyType: 'string' },
          policy: 'timestamp',
          consistency: 'eventual',
          serviceEvents: ['product.updated'],
          fields: [
            { name: 'sku', type: 'string', column: 'sku', nullable: false },
            { name: 'name', type: 'string', eav: { attributeCode: 'name', backendType: 'varchar' } },
            // Pricing is written from the Seller Centre: a concurrent change waits for a person.
            {
              name: 'price',
              type: 'decimal',
              scale: 6,
              eav: { attributeCode: 'price', backendType: 'decimal' },
              policy: 'admin',
            },
            // 1 = enabled, 2 = disabled (Magento's Status source model).
            { name: 'status', type: 'integer', eav: { attributeCode: 'status', backendType: 'int' } },
          ],
        },
        {
          name: 'stock',
          legacy: {
            table: 'cataloginventory_stock_item',
            key: 'product_id',
            // product_id is the product's entity_id: stock of a product created in the service
            // lands under the product's Magento id (and waits for the product to get one).
            keyReferences: 'product',
            where: { stock_id: 1 },
            insertDefaults: { stock_id: 1, website_id: 0 },
          },
          target: { key: 'productId', keyType: 'string' },
          // Real-time reservations live in the service.
          policy: 'service-wins',
          consistency: 'strong',
          serviceEvents: ['stock.updated'],
          fields: [
            { name: 'qty', type: 'decimal', scale: 4, column: 'qty' },
            { name: 'isInStock', type: 'integer', column: 'is_in_stock', nullable: false },
          ],
        },
      ],
    },
    {
      name: 'order',
      description: 'Order Service (high risk, enabled last)',
      risk: 'high',
      serviceUrl: 'https://order.internal.example.com',
      legacyUrl: 'https://magento.internal.example.com',
      routes: [
        { method: 'GET', pathPrefix: '/orders', access: 'read' },
        { method: 'ANY', pathPrefix: '/orders', access: 'write' },
        { method: 'ANY', pathPrefix: '/coupons', access: 'write' },
      ],
      entities: [
        {
          name: 'order',
          legacy: { table: 'sales_order', key: 'entity_id', updatedAt: 'updated_at' },
          target: { key: 'orderId', keyType: 'string' },
          // The order state machine lives in the service.
          policy: 'service-wins',
          consistency: 'strong',
          serviceEvents: ['order.placed', 'order.updated'],
          fields: [
            { name: 'state', type: 'string', column: 'state' },
            { name: 'status', type: 'string', column: 'status' },
            { name: 'incrementId', type: 'string', column: 'increment_id' },
            // The customer's key on each side: the Customer Service's id in the service,
            // customer_entity.entity_id (FK) in Magento.
            { name: 'customerId', type: 'string', column: 'customer_id', references: { entity: 'customer' } },
            { name: 'customerEmail', type: 'string', column: 'customer_email', pii: true },
            { name: 'grandTotal', type: 'decimal', scale: 4, column: 'grand_total' },
          ],
        },
        {
          name: 'coupon',
          legacy: { table: 'salesrule_coupon', key: 'coupon_id' },
          target: { key: 'couponId', keyType: 'string' },
          // Both sides increment concurrently: counters move by deltas, never by absolutes.
          policy: 'sum',
          consistency: 'eventual',
          serviceEvents: ['coupon.used'],
          fields: [
            { name: 'code', type: 'string', column: 'code', policy: 'timestamp' },
            { name: 'timesUsed', type: 'integer', column: 'times_used', nullable: false },
            // The Magento cart price rule the coupon belongs to (salesrule.rule_id). Rules stay
            // in Magento: the service copies the id from the coupons it receives.
            { name: 'ruleId', type: 'integer', column: 'rule_id', policy: 'legacy-wins' },
          ],
          create: {
            legacyRequires: ['ruleId'],
            reason:
              'a Magento coupon belongs to a cart price rule (salesrule_coupon.rule_id is NOT NULL without a default, ' +
              'FK to salesrule) and rules are not migrated: a coupon created in the service must carry the ruleId of ' +
              'an existing Magento rule',
          },
        },
      ],
      rollout: { approveBeforeCutover: true, bakeMinutes: 120 },
    },
  ],
});
