/**
 * The tests' database harness is the one `cutover rehearse` uses: lib/local/databases.ts
 * (MariaDB as the Magento database, DynamoDB Local as the service side). Re-exported here so
 * the test files keep importing it from their support directory.
 */
export * from '../../lib/local/databases.js';
