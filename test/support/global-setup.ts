/**
 * Vitest global setup. The database harness (MariaDB as the Magento database, DynamoDB Local)
 * is started here once per run and its endpoints are passed to the test files through
 * `project.provide` (read them with `inject('mysqlUrl')` / `inject('dynamoEndpoint')`).
 * See lib/local/databases.ts for how each is found, started or installed.
 */
import type { TestProject } from 'vitest/node';
import { findOrStartMariaDb, startDynamoLocal } from './databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** mysql://root@127.0.0.1:port/ — a server; each test file creates its own database. */
    mysqlUrl: string;
    /** http://127.0.0.1:port — DynamoDB Local (shared DB); each test file uses its own tables. */
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[databases] ${line}\n`);
  const started = Date.now();
  const [maria, dynamo] = await Promise.all([findOrStartMariaDb(log), startDynamoLocal(log)]);
  log(`databases ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('mysqlUrl', maria.url);
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return async () => {
    await Promise.allSettled([maria.stop(), dynamo.stop()]);
  };
}
