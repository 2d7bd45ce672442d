-- Magento 2.4 schema fixture for the integration tests: the tables the bundled magento spec
-- (migrations/magento.ts) uses and the tables they reference, as Magento's own db_schema.xml
-- declares them (column lists, types, NOT NULL columns without defaults, defaults, unique keys,
-- foreign keys, indexes, ON UPDATE CURRENT_TIMESTAMP), plus the install-data rows the sync relies
-- on (websites, store groups and stores 0/1, stock 1, eav_entity_type 4 catalog_product and its
-- name/price/status attributes, one cart price rule). The facts, with their sources, are in
-- test/contracts/magento/db_schema.json (explained in docs/magento-schema.md);
-- test/integration/magento-fixture-schema.test.ts checks this file against them.
-- Statements are separated by ";\n" (lib/local/databases.ts splits on it).

SET FOREIGN_KEY_CHECKS = 0;

-- store_website: app/code/Magento/Store/etc/db_schema.xml
CREATE TABLE store_website (
  website_id smallint unsigned NOT NULL AUTO_INCREMENT,
  code varchar(32) DEFAULT NULL,
  name varchar(64) DEFAULT NULL,
  sort_order smallint unsigned NOT NULL DEFAULT 0,
  default_group_id smallint unsigned NOT NULL DEFAULT 0,
  is_default smallint unsigned DEFAULT 0,
  PRIMARY KEY (website_id),
  UNIQUE KEY STORE_WEBSITE_CODE (code),
  KEY STORE_WEBSITE_SORT_ORDER (sort_order),
  KEY STORE_WEBSITE_DEFAULT_GROUP_ID (default_group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- store_group: app/code/Magento/Store/etc/db_schema.xml
CREATE TABLE store_group (
  group_id smallint unsigned NOT NULL AUTO_INCREMENT,
  website_id smallint unsigned NOT NULL DEFAULT 0,
  name varchar(255) NOT NULL,
  root_category_id int unsigned NOT NULL DEFAULT 0,
  default_store_id smallint unsigned NOT NULL DEFAULT 0,
  code varchar(32) DEFAULT NULL,
  PRIMARY KEY (group_id),
  UNIQUE KEY STORE_GROUP_CODE (code),
  KEY STORE_GROUP_WEBSITE_ID (website_id),
  KEY STORE_GROUP_DEFAULT_STORE_ID (default_store_id),
  CONSTRAINT STORE_GROUP_WEBSITE_ID_STORE_WEBSITE_WEBSITE_ID FOREIGN KEY (website_id) REFERENCES store_website (website_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- store: app/code/Magento/Store/etc/db_schema.xml
CREATE TABLE store (
  store_id smallint unsigned NOT NULL AUTO_INCREMENT,
  code varchar(32) DEFAULT NULL,
  website_id smallint unsigned NOT NULL DEFAULT 0,
  group_id smallint unsigned NOT NULL DEFAULT 0,
  name varchar(255) NOT NULL,
  sort_order smallint unsigned NOT NULL DEFAULT 0,
  is_active smallint unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (store_id),
  UNIQUE KEY STORE_CODE (code),
  KEY STORE_WEBSITE_ID (website_id),
  KEY STORE_IS_ACTIVE_SORT_ORDER (is_active, sort_order),
  KEY STORE_GROUP_ID (group_id),
  CONSTRAINT STORE_GROUP_ID_STORE_GROUP_GROUP_ID FOREIGN KEY (group_id) REFERENCES store_group (group_id) ON DELETE CASCADE,
  CONSTRAINT STORE_WEBSITE_ID_STORE_WEBSITE_WEBSITE_ID FOREIGN KEY (website_id) REFERENCES store_website (website_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- customer_entity: app/code/Magento/Customer/etc/db_schema.xml
CREATE TABLE customer_entity (
  entity_id int unsigned NOT NULL AUTO_INCREMENT,
  website_id smallint unsigned DEFAULT NULL,
  email varchar(255) DEFAULT NULL,
  group_id smallint unsigned NOT NULL DEFAULT 0,
  increment_id varchar(50) DEFAULT NULL,
  store_id smallint unsigned DEFAULT 0,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  is_active smallint unsigned NOT NULL DEFAULT 1,
  disable_auto_group_change smallint unsigned NOT NULL DEFAULT 0,
  created_in varchar(255) DEFAULT NULL,
  prefix varchar(40) DEFAULT NULL,
  firstname varchar(255) DEFAULT NULL,
  middlename varchar(255) DEFAULT NULL,
  lastname varchar(255) DEFAULT NULL,
  suffix varchar(40) DEFAULT NULL,
  dob date DEFAULT NULL,
  password_hash varchar(128) DEFAULT NULL,
  rp_token varchar(128) DEFAULT NULL,
  rp_token_created_at datetime DEFAULT NULL,
  default_billing int unsigned DEFAULT NULL,
  default_shipping int unsigned DEFAULT NULL,
  taxvat varchar(50) DEFAULT NULL,
  confirmation varchar(64) DEFAULT NULL,
  gender smallint unsigned DEFAULT NULL,
  failures_num smallint DEFAULT 0,
  first_failure timestamp NULL DEFAULT NULL,
  lock_expires timestamp NULL DEFAULT NULL,
  session_cutoff timestamp NULL DEFAULT NULL,
  PRIMARY KEY (entity_id),
  UNIQUE KEY CUSTOMER_ENTITY_EMAIL_WEBSITE_ID (email, website_id),
  KEY CUSTOMER_ENTITY_STORE_ID (store_id),
  KEY CUSTOMER_ENTITY_WEBSITE_ID (website_id),
  KEY CUSTOMER_ENTITY_FIRSTNAME (firstname),
  KEY CUSTOMER_ENTITY_LASTNAME (lastname),
  CONSTRAINT CUSTOMER_ENTITY_STORE_ID_STORE_STORE_ID FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE SET NULL,
  CONSTRAINT CUSTOMER_ENTITY_WEBSITE_ID_STORE_WEBSITE_WEBSITE_ID FOREIGN KEY (website_id) REFERENCES store_website (website_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- eav_entity_type: app/code/Magento/Eav/etc/db_schema.xml
CREATE TABLE eav_entity_type (
  entity_type_id smallint unsigned NOT NULL AUTO_INCREMENT,
  entity_type_code varchar(50) NOT NULL,
  entity_model varchar(255) NOT NULL,
  attribute_model varchar(255) DEFAULT NULL,
  entity_table varchar(255) DEFAULT NULL,
  value_table_prefix varchar(255) DEFAULT NULL,
  entity_id_field varchar(255) DEFAULT NULL,
  is_data_sharing smallint unsigned NOT NULL DEFAULT 1,
  data_sharing_key varchar(100) DEFAULT 'default',
  default_attribute_set_id smallint unsigned NOT NULL DEFAULT 0,
  increment_model varchar(255) DEFAULT NULL,
  increment_per_store smallint unsigned NOT NULL DEFAULT 0,
  increment_pad_length smallint unsigned NOT NULL DEFAULT 8,
  increment_pad_char varchar(1) NOT NULL DEFAULT '0',
  additional_attribute_table varchar(255) DEFAULT NULL,
  entity_attribute_collection varchar(255) DEFAULT NULL,
  PRIMARY KEY (entity_type_id),
  KEY EAV_ENTITY_TYPE_ENTITY_TYPE_CODE (entity_type_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- eav_attribute: app/code/Magento/Eav/etc/db_schema.xml
CREATE TABLE eav_attribute (
  attribute_id smallint unsigned NOT NULL AUTO_INCREMENT,
  entity_type_id smallint unsigned NOT NULL DEFAULT 0,
  attribute_code varchar(255) NOT NULL,
  attribute_model varchar(255) DEFAULT NULL,
  backend_model varchar(255) DEFAULT NULL,
  backend_type varchar(8) NOT NULL DEFAULT 'static',
  backend_table varchar(255) DEFAULT NULL,
  frontend_model varchar(255) DEFAULT NULL,
  frontend_input varchar(50) DEFAULT NULL,
  frontend_label varchar(255) DEFAULT NULL,
  frontend_class varchar(255) DEFAULT NULL,
  source_model varchar(255) DEFAULT NULL,
  is_required smallint unsigned NOT NULL DEFAULT 0,
  is_user_defined smallint unsigned NOT NULL DEFAULT 0,
  default_value text DEFAULT NULL,
  is_unique smallint unsigned NOT NULL DEFAULT 0,
  note varchar(255) DEFAULT NULL,
  PRIMARY KEY (attribute_id),
  UNIQUE KEY EAV_ATTRIBUTE_ENTITY_TYPE_ID_ATTRIBUTE_CODE (entity_type_id, attribute_code),
  KEY EAV_ATTRIBUTE_FRONTEND_INPUT_ENTITY_TYPE_ID_IS_USER_DEFINED (frontend_input, entity_type_id, is_user_defined),
  CONSTRAINT EAV_ATTRIBUTE_ENTITY_TYPE_ID_EAV_ENTITY_TYPE_ENTITY_TYPE_ID FOREIGN KEY (entity_type_id) REFERENCES eav_entity_type (entity_type_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- catalog_product_entity: app/code/Magento/Catalog/etc/db_schema.xml
CREATE TABLE catalog_product_entity (
  entity_id int unsigned NOT NULL AUTO_INCREMENT,
  attribute_set_id smallint unsigned NOT NULL DEFAULT 0,
  type_id varchar(32) NOT NULL DEFAULT 'simple',
  sku varchar(64) NOT NULL,
  has_options smallint NOT NULL DEFAULT 0,
  required_options smallint unsigned NOT NULL DEFAULT 0,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (entity_id),
  KEY CATALOG_PRODUCT_ENTITY_ATTRIBUTE_SET_ID (attribute_set_id),
  KEY CATALOG_PRODUCT_ENTITY_SKU (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- catalog_product_entity_decimal: app/code/Magento/Catalog/etc/db_schema.xml
CREATE TABLE catalog_product_entity_decimal (
  value_id int NOT NULL AUTO_INCREMENT,
  attribute_id smallint unsigned NOT NULL DEFAULT 0,
  store_id smallint unsigned NOT NULL DEFAULT 0,
  entity_id int unsigned NOT NULL DEFAULT 0,
  value decimal(20,6) DEFAULT NULL,
  PRIMARY KEY (value_id),
  UNIQUE KEY CATALOG_PRODUCT_ENTITY_DECIMAL_ENTITY_ID_ATTRIBUTE_ID_STORE_ID (entity_id, attribute_id, store_id),
  KEY CATALOG_PRODUCT_ENTITY_DECIMAL_ATTRIBUTE_ID (attribute_id),
  KEY CATALOG_PRODUCT_ENTITY_DECIMAL_STORE_ID (store_id),
  CONSTRAINT CAT_PRD_ENTT_DEC_ATTR_ID_EAV_ATTR_ATTR_ID FOREIGN KEY (attribute_id) REFERENCES eav_attribute (attribute_id) ON DELETE CASCADE,
  CONSTRAINT CAT_PRD_ENTT_DEC_ENTT_ID_CAT_PRD_ENTT_ENTT_ID FOREIGN KEY (entity_id) REFERENCES catalog_product_entity (entity_id) ON DELETE CASCADE,
  CONSTRAINT CATALOG_PRODUCT_ENTITY_DECIMAL_STORE_ID_STORE_STORE_ID FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- catalog_product_entity_varchar: app/code/Magento/Catalog/etc/db_schema.xml
CREATE TABLE catalog_product_entity_varchar (
  value_id int NOT NULL AUTO_INCREMENT,
  attribute_id smallint unsigned NOT NULL DEFAULT 0,
  store_id smallint unsigned NOT NULL DEFAULT 0,
  entity_id int unsigned NOT NULL DEFAULT 0,
  value varchar(255) DEFAULT NULL,
  PRIMARY KEY (value_id),
  UNIQUE KEY CATALOG_PRODUCT_ENTITY_VARCHAR_ENTITY_ID_ATTRIBUTE_ID_STORE_ID (entity_id, attribute_id, store_id),
  KEY CATALOG_PRODUCT_ENTITY_VARCHAR_ATTRIBUTE_ID (attribute_id),
  KEY CATALOG_PRODUCT_ENTITY_VARCHAR_STORE_ID (store_id),
  CONSTRAINT CAT_PRD_ENTT_VCHR_ATTR_ID_EAV_ATTR_ATTR_ID FOREIGN KEY (attribute_id) REFERENCES eav_attribute (attribute_id) ON DELETE CASCADE,
  CONSTRAINT CAT_PRD_ENTT_VCHR_ENTT_ID_CAT_PRD_ENTT_ENTT_ID FOREIGN KEY (entity_id) REFERENCES catalog_product_entity (entity_id) ON DELETE CASCADE,
  CONSTRAINT CATALOG_PRODUCT_ENTITY_VARCHAR_STORE_ID_STORE_STORE_ID FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- catalog_product_entity_int: app/code/Magento/Catalog/etc/db_schema.xml
CREATE TABLE catalog_product_entity_int (
  value_id int NOT NULL AUTO_INCREMENT,
  attribute_id smallint unsigned NOT NULL DEFAULT 0,
  store_id smallint unsigned NOT NULL DEFAULT 0,
  entity_id int unsigned NOT NULL DEFAULT 0,
  value int DEFAULT NULL,
  PRIMARY KEY (value_id),
  UNIQUE KEY CATALOG_PRODUCT_ENTITY_INT_ENTITY_ID_ATTRIBUTE_ID_STORE_ID (entity_id, attribute_id, store_id),
  KEY CATALOG_PRODUCT_ENTITY_INT_ATTRIBUTE_ID (attribute_id),
  KEY CATALOG_PRODUCT_ENTITY_INT_STORE_ID (store_id),
  KEY CATALOG_PRODUCT_ENTITY_INT_ATTRIBUTE_ID_STORE_ID_VALUE (attribute_id, store_id, value),
  CONSTRAINT CAT_PRD_ENTT_INT_ATTR_ID_EAV_ATTR_ATTR_ID FOREIGN KEY (attribute_id) REFERENCES eav_attribute (attribute_id) ON DELETE CASCADE,
  CONSTRAINT CAT_PRD_ENTT_INT_ENTT_ID_CAT_PRD_ENTT_ENTT_ID FOREIGN KEY (entity_id) REFERENCES catalog_product_entity (entity_id) ON DELETE CASCADE,
  CONSTRAINT CATALOG_PRODUCT_ENTITY_INT_STORE_ID_STORE_STORE_ID FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- cataloginventory_stock: app/code/Magento/CatalogInventory/etc/db_schema.xml
CREATE TABLE cataloginventory_stock (
  stock_id smallint unsigned NOT NULL AUTO_INCREMENT,
  website_id smallint unsigned NOT NULL,
  stock_name varchar(255) DEFAULT NULL,
  PRIMARY KEY (stock_id),
  KEY CATALOGINVENTORY_STOCK_WEBSITE_ID (website_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- cataloginventory_stock_item: app/code/Magento/CatalogInventory/etc/db_schema.xml
CREATE TABLE cataloginventory_stock_item (
  item_id int unsigned NOT NULL AUTO_INCREMENT,
  product_id int unsigned NOT NULL DEFAULT 0,
  stock_id smallint unsigned NOT NULL DEFAULT 0,
  qty decimal(12,4) DEFAULT NULL,
  min_qty decimal(12,4) NOT NULL DEFAULT 0,
  use_config_min_qty smallint unsigned NOT NULL DEFAULT 1,
  is_qty_decimal smallint unsigned NOT NULL DEFAULT 0,
  backorders smallint unsigned NOT NULL DEFAULT 0,
  use_config_backorders smallint unsigned NOT NULL DEFAULT 1,
  min_sale_qty decimal(12,4) NOT NULL DEFAULT 1,
  use_config_min_sale_qty smallint unsigned NOT NULL DEFAULT 1,
  max_sale_qty decimal(12,4) NOT NULL DEFAULT 0,
  use_config_max_sale_qty smallint unsigned NOT NULL DEFAULT 1,
  is_in_stock smallint unsigned NOT NULL DEFAULT 0,
  low_stock_date timestamp NULL DEFAULT NULL,
  notify_stock_qty decimal(12,4) DEFAULT NULL,
  use_config_notify_stock_qty smallint unsigned NOT NULL DEFAULT 1,
  manage_stock smallint unsigned NOT NULL DEFAULT 0,
  use_config_manage_stock smallint unsigned NOT NULL DEFAULT 1,
  stock_status_changed_auto smallint unsigned NOT NULL DEFAULT 0,
  use_config_qty_increments smallint unsigned NOT NULL DEFAULT 1,
  qty_increments decimal(12,4) NOT NULL DEFAULT 0,
  use_config_enable_qty_inc smallint unsigned NOT NULL DEFAULT 1,
  enable_qty_increments smallint unsigned NOT NULL DEFAULT 0,
  is_decimal_divided smallint unsigned NOT NULL DEFAULT 0,
  website_id smallint unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (item_id),
  UNIQUE KEY CATALOGINVENTORY_STOCK_ITEM_PRODUCT_ID_STOCK_ID (product_id, stock_id),
  KEY CATALOGINVENTORY_STOCK_ITEM_WEBSITE_ID (website_id),
  KEY CATALOGINVENTORY_STOCK_ITEM_WEBSITE_ID_PRODUCT_ID (website_id, product_id),
  KEY CATALOGINVENTORY_STOCK_ITEM_STOCK_ID (stock_id),
  CONSTRAINT CATINV_STOCK_ITEM_PRD_ID_CAT_PRD_ENTT_ENTT_ID FOREIGN KEY (product_id) REFERENCES catalog_product_entity (entity_id) ON DELETE CASCADE,
  CONSTRAINT CATINV_STOCK_ITEM_STOCK_ID_CATINV_STOCK_STOCK_ID FOREIGN KEY (stock_id) REFERENCES cataloginventory_stock (stock_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- sales_order: app/code/Magento/Sales/etc/db_schema.xml
CREATE TABLE sales_order (
  entity_id int unsigned NOT NULL AUTO_INCREMENT,
  state varchar(32) DEFAULT NULL,
  status varchar(32) DEFAULT NULL,
  coupon_code varchar(255) DEFAULT NULL,
  protect_code varchar(255) DEFAULT NULL,
  shipping_description varchar(255) DEFAULT NULL,
  is_virtual smallint unsigned DEFAULT NULL,
  store_id smallint unsigned DEFAULT NULL,
  customer_id int unsigned DEFAULT NULL,
  base_discount_amount decimal(20,4) DEFAULT NULL,
  base_discount_canceled decimal(20,4) DEFAULT NULL,
  base_discount_invoiced decimal(20,4) DEFAULT NULL,
  base_discount_refunded decimal(20,4) DEFAULT NULL,
  base_grand_total decimal(20,4) DEFAULT NULL,
  base_shipping_amount decimal(20,4) DEFAULT NULL,
  base_shipping_canceled decimal(20,4) DEFAULT NULL,
  base_shipping_invoiced decimal(20,4) DEFAULT NULL,
  base_shipping_refunded decimal(20,4) DEFAULT NULL,
  base_shipping_tax_amount decimal(20,4) DEFAULT NULL,
  base_shipping_tax_refunded decimal(20,4) DEFAULT NULL,
  base_subtotal decimal(20,4) DEFAULT NULL,
  base_subtotal_canceled decimal(20,4) DEFAULT NULL,
  base_subtotal_invoiced decimal(20,4) DEFAULT NULL,
  base_subtotal_refunded decimal(20,4) DEFAULT NULL,
  base_tax_amount decimal(20,4) DEFAULT NULL,
  base_tax_canceled decimal(20,4) DEFAULT NULL,
  base_tax_invoiced decimal(20,4) DEFAULT NULL,
  base_tax_refunded decimal(20,4) DEFAULT NULL,
  base_to_global_rate decimal(20,4) DEFAULT NULL,
  base_to_order_rate decimal(20,4) DEFAULT NULL,
  base_total_canceled decimal(20,4) DEFAULT NULL,
  base_total_invoiced decimal(20,4) DEFAULT NULL,
  base_total_invoiced_cost decimal(20,4) DEFAULT NULL,
  base_total_offline_refunded decimal(20,4) DEFAULT NULL,
  base_total_online_refunded decimal(20,4) DEFAULT NULL,
  base_total_paid decimal(20,4) DEFAULT NULL,
  base_total_qty_ordered decimal(12,4) DEFAULT NULL,
  base_total_refunded decimal(20,4) DEFAULT NULL,
  discount_amount decimal(20,4) DEFAULT NULL,
  discount_canceled decimal(20,4) DEFAULT NULL,
  discount_invoiced decimal(20,4) DEFAULT NULL,
  discount_refunded decimal(20,4) DEFAULT NULL,
  grand_total decimal(20,4) DEFAULT NULL,
  shipping_amount decimal(20,4) DEFAULT NULL,
  shipping_canceled decimal(20,4) DEFAULT NULL,
  shipping_invoiced decimal(20,4) DEFAULT NULL,
  shipping_refunded decimal(20,4) DEFAULT NULL,
  shipping_tax_amount decimal(20,4) DEFAULT NULL,
  shipping_tax_refunded decimal(20,4) DEFAULT NULL,
  store_to_base_rate decimal(12,4) DEFAULT NULL,
  store_to_order_rate decimal(12,4) DEFAULT NULL,
  subtotal decimal(20,4) DEFAULT NULL,
  subtotal_canceled decimal(20,4) DEFAULT NULL,
  subtotal_invoiced decimal(20,4) DEFAULT NULL,
  subtotal_refunded decimal(20,4) DEFAULT NULL,
  tax_amount decimal(20,4) DEFAULT NULL,
  tax_canceled decimal(20,4) DEFAULT NULL,
  tax_invoiced decimal(20,4) DEFAULT NULL,
  tax_refunded decimal(20,4) DEFAULT NULL,
  total_canceled decimal(20,4) DEFAULT NULL,
  total_invoiced decimal(20,4) DEFAULT NULL,
  total_offline_refunded decimal(20,4) DEFAULT NULL,
  total_online_refunded decimal(20,4) DEFAULT NULL,
  total_paid decimal(20,4) DEFAULT NULL,
  total_qty_ordered decimal(12,4) DEFAULT NULL,
  total_refunded decimal(20,4) DEFAULT NULL,
  can_ship_partially smallint unsigned DEFAULT NULL,
  can_ship_partially_item smallint unsigned DEFAULT NULL,
  customer_is_guest smallint unsigned DEFAULT NULL,
  customer_note_notify smallint unsigned DEFAULT NULL,
  billing_address_id int DEFAULT NULL,
  customer_group_id int DEFAULT NULL,
  edit_increment int DEFAULT NULL,
  email_sent smallint DEFAULT NULL,
  send_email smallint unsigned DEFAULT NULL,
  forced_shipment_with_invoice smallint unsigned DEFAULT NULL,
  payment_auth_expiration int DEFAULT NULL,
  quote_address_id int DEFAULT NULL,
  quote_id int DEFAULT NULL,
  shipping_address_id int DEFAULT NULL,
  adjustment_negative decimal(20,4) DEFAULT NULL,
  adjustment_positive decimal(20,4) DEFAULT NULL,
  base_adjustment_negative decimal(20,4) DEFAULT NULL,
  base_adjustment_positive decimal(20,4) DEFAULT NULL,
  base_shipping_discount_amount decimal(20,4) DEFAULT NULL,
  base_subtotal_incl_tax decimal(20,4) DEFAULT NULL,
  base_total_due decimal(20,4) DEFAULT NULL,
  payment_authorization_amount decimal(20,4) DEFAULT NULL,
  shipping_discount_amount decimal(20,4) DEFAULT NULL,
  subtotal_incl_tax decimal(20,4) DEFAULT NULL,
  total_due decimal(20,4) DEFAULT NULL,
  weight decimal(12,4) DEFAULT NULL,
  customer_dob datetime DEFAULT NULL,
  increment_id varchar(50) DEFAULT NULL,
  applied_rule_ids varchar(128) DEFAULT NULL,
  base_currency_code varchar(3) DEFAULT NULL,
  customer_email varchar(128) DEFAULT NULL,
  customer_firstname varchar(128) DEFAULT NULL,
  customer_lastname varchar(128) DEFAULT NULL,
  customer_middlename varchar(128) DEFAULT NULL,
  customer_prefix varchar(32) DEFAULT NULL,
  customer_suffix varchar(32) DEFAULT NULL,
  customer_taxvat varchar(32) DEFAULT NULL,
  discount_description varchar(255) DEFAULT NULL,
  ext_customer_id varchar(32) DEFAULT NULL,
  ext_order_id varchar(32) DEFAULT NULL,
  global_currency_code varchar(3) DEFAULT NULL,
  hold_before_state varchar(32) DEFAULT NULL,
  hold_before_status varchar(32) DEFAULT NULL,
  order_currency_code varchar(3) DEFAULT NULL,
  original_increment_id varchar(50) DEFAULT NULL,
  relation_child_id varchar(32) DEFAULT NULL,
  relation_child_real_id varchar(32) DEFAULT NULL,
  relation_parent_id varchar(32) DEFAULT NULL,
  relation_parent_real_id varchar(32) DEFAULT NULL,
  remote_ip varchar(45) DEFAULT NULL,
  shipping_method varchar(120) DEFAULT NULL,
  store_currency_code varchar(3) DEFAULT NULL,
  store_name varchar(255) DEFAULT NULL,
  x_forwarded_for varchar(255) DEFAULT NULL,
  customer_note text DEFAULT NULL,
  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  total_item_count smallint unsigned NOT NULL DEFAULT 0,
  customer_gender int DEFAULT NULL,
  discount_tax_compensation_amount decimal(20,4) DEFAULT NULL,
  base_discount_tax_compensation_amount decimal(20,4) DEFAULT NULL,
  shipping_discount_tax_compensation_amount decimal(20,4) DEFAULT NULL,
  base_shipping_discount_tax_compensation_amnt decimal(20,4) DEFAULT NULL,
  discount_tax_compensation_invoiced decimal(20,4) DEFAULT NULL,
  base_discount_tax_compensation_invoiced decimal(20,4) DEFAULT NULL,
  discount_tax_compensation_refunded decimal(20,4) DEFAULT NULL,
  base_discount_tax_compensation_refunded decimal(20,4) DEFAULT NULL,
  shipping_incl_tax decimal(20,4) DEFAULT NULL,
  base_shipping_incl_tax decimal(20,4) DEFAULT NULL,
  coupon_rule_name varchar(255) DEFAULT NULL,
  PRIMARY KEY (entity_id),
  UNIQUE KEY SALES_ORDER_INCREMENT_ID_STORE_ID (increment_id, store_id),
  KEY SALES_ORDER_STATUS (status),
  KEY SALES_ORDER_STATE (state),
  KEY SALES_ORDER_STORE_ID (store_id),
  KEY SALES_ORDER_CREATED_AT (created_at),
  KEY SALES_ORDER_CUSTOMER_ID (customer_id),
  KEY SALES_ORDER_EXT_ORDER_ID (ext_order_id),
  KEY SALES_ORDER_QUOTE_ID (quote_id),
  KEY SALES_ORDER_UPDATED_AT (updated_at),
  KEY SALES_ORDER_SEND_EMAIL (send_email),
  KEY SALES_ORDER_EMAIL_SENT (email_sent),
  KEY SALES_ORDER_STORE_STATE_CREATED (store_id, state, created_at),
  KEY SALES_ORDER_CUSTOMER_EMAIL_CUSTOMER_IS_GUEST_STORE_ID (customer_email, customer_is_guest, store_id),
  CONSTRAINT SALES_ORDER_CUSTOMER_ID_CUSTOMER_ENTITY_ENTITY_ID FOREIGN KEY (customer_id) REFERENCES customer_entity (entity_id) ON DELETE SET NULL,
  CONSTRAINT SALES_ORDER_STORE_ID_STORE_STORE_ID FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- salesrule: app/code/Magento/SalesRule/etc/db_schema.xml
CREATE TABLE salesrule (
  rule_id int unsigned NOT NULL AUTO_INCREMENT,
  name varchar(255) DEFAULT NULL,
  description text DEFAULT NULL,
  from_date date DEFAULT NULL,
  to_date date DEFAULT NULL,
  uses_per_customer int NOT NULL DEFAULT 0,
  is_active smallint NOT NULL DEFAULT 0,
  conditions_serialized mediumtext DEFAULT NULL,
  actions_serialized mediumtext DEFAULT NULL,
  stop_rules_processing smallint NOT NULL DEFAULT 1,
  is_advanced smallint unsigned NOT NULL DEFAULT 1,
  product_ids text DEFAULT NULL,
  sort_order int unsigned NOT NULL DEFAULT 0,
  simple_action varchar(32) DEFAULT NULL,
  discount_amount decimal(12,4) NOT NULL DEFAULT 0,
  discount_qty decimal(12,4) DEFAULT NULL,
  discount_step int unsigned NOT NULL DEFAULT 0,
  apply_to_shipping smallint unsigned NOT NULL DEFAULT 0,
  times_used int unsigned NOT NULL DEFAULT 0,
  is_rss smallint NOT NULL DEFAULT 0,
  coupon_type smallint unsigned NOT NULL DEFAULT 1,
  use_auto_generation smallint NOT NULL DEFAULT 0,
  uses_per_coupon int NOT NULL DEFAULT 0,
  PRIMARY KEY (rule_id),
  KEY SALESRULE_IS_ACTIVE_SORT_ORDER_TO_DATE_FROM_DATE (is_active, sort_order, to_date, from_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- salesrule_coupon: app/code/Magento/SalesRule/etc/db_schema.xml
CREATE TABLE salesrule_coupon (
  coupon_id int unsigned NOT NULL AUTO_INCREMENT,
  rule_id int unsigned NOT NULL,
  code varchar(255) DEFAULT NULL,
  usage_limit int unsigned DEFAULT NULL,
  usage_per_customer int unsigned DEFAULT NULL,
  times_used int unsigned NOT NULL DEFAULT 0,
  expiration_date datetime DEFAULT NULL,
  is_primary smallint unsigned DEFAULT NULL,
  created_at timestamp NULL DEFAULT NULL,
  type smallint DEFAULT 0,
  PRIMARY KEY (coupon_id),
  UNIQUE KEY SALESRULE_COUPON_CODE (code),
  UNIQUE KEY SALESRULE_COUPON_RULE_ID_IS_PRIMARY (rule_id, is_primary),
  KEY SALESRULE_COUPON_RULE_ID (rule_id),
  CONSTRAINT SALESRULE_COUPON_RULE_ID_SALESRULE_RULE_ID FOREIGN KEY (rule_id) REFERENCES salesrule (rule_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci;

-- Install data. Magento inserts website 0, store group 0 and store 0 (admin) with explicit ids.
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO');

INSERT INTO store_website (website_id, code, name, sort_order, default_group_id, is_default) VALUES
  (0, 'admin', 'Admin', 0, 0, 0), (1, 'base', 'Main Website', 0, 1, 1);

INSERT INTO store_group (group_id, website_id, name, root_category_id, default_store_id, code) VALUES
  (0, 0, 'Default', 0, 0, 'default'), (1, 1, 'Main Website Store', 2, 1, 'main_website_store');

INSERT INTO store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES
  (0, 'admin', 0, 0, 'Admin', 0, 1), (1, 'default', 1, 1, 'Default Store View', 0, 1);

INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model, attribute_model, entity_table,
  default_attribute_set_id, additional_attribute_table, entity_attribute_collection) VALUES
  (1, 'customer', 'Magento\\Customer\\Model\\ResourceModel\\Customer', 'Magento\\Customer\\Model\\Attribute', 'customer_entity', 1, 'customer_eav_attribute', 'Magento\\Customer\\Model\\ResourceModel\\Attribute\\Collection'),
  (3, 'catalog_category', 'Magento\\Catalog\\Model\\ResourceModel\\Category', 'Magento\\Catalog\\Model\\ResourceModel\\Eav\\Attribute', 'catalog_category_entity', 3, 'catalog_eav_attribute', 'Magento\\Catalog\\Model\\ResourceModel\\Category\\Attribute\\Collection'),
  (4, 'catalog_product', 'Magento\\Catalog\\Model\\ResourceModel\\Product', 'Magento\\Catalog\\Model\\ResourceModel\\Eav\\Attribute', 'catalog_product_entity', 4, 'catalog_eav_attribute', 'Magento\\Catalog\\Model\\ResourceModel\\Product\\Attribute\\Collection');

-- attribute ids depend on install order: other attributes come first, so name/price/status are not 1/2/3.
INSERT INTO eav_attribute (entity_type_id, attribute_code, backend_type, frontend_input, frontend_label, is_required) VALUES
  (1, 'website_id', 'static', 'select', 'Associate to Website', 1),
  (3, 'name', 'varchar', 'text', 'Name', 1),
  (4, 'sku', 'static', 'text', 'SKU', 1);
INSERT INTO eav_attribute (entity_type_id, attribute_code, backend_model, backend_type, frontend_input, frontend_label, frontend_class, source_model, is_required) VALUES
  (4, 'name', NULL, 'varchar', 'text', 'Product Name', 'validate-length maximum-length-255', NULL, 1),
  (4, 'price', 'Magento\\Catalog\\Model\\Product\\Attribute\\Backend\\Price', 'decimal', 'price', 'Price', NULL, NULL, 1),
  (4, 'status', NULL, 'int', 'select', 'Enable Product', NULL, 'Magento\\Catalog\\Model\\Product\\Attribute\\Source\\Status', 1);
UPDATE eav_attribute SET is_unique = 1 WHERE entity_type_id = 4 AND attribute_code = 'sku';

-- Stock 1 'Default' (CatalogInventory patch CreateDefaultStock); stock items use website_id 0.
INSERT INTO cataloginventory_stock (stock_id, website_id, stock_name) VALUES (1, 0, 'Default');

-- One cart price rule, so that coupons have a rule to belong to (salesrule_coupon.rule_id is NOT NULL).
INSERT INTO salesrule (rule_id, name, is_active, uses_per_coupon, coupon_type) VALUES (1, 'Winter sale', 1, 0, 2);

SET FOREIGN_KEY_CHECKS = 1;
