/**
 * Which handlers query the legacy side (the Magento database, or a legacy HTTP API): the ones
 * whose composition root loads the legacy adapters (lambdas/handlers/runtime.ts,
 * rollout-archive.ts). Only these run in the database's VPC, get its secret, and may bundle
 * mysql2; every other handler's bundle stays under the small budget. Held by
 * test/infra/app.test.ts (grants) and test/infra/bundle-budget.test.ts (bundles).
 */
export const LEGACY_HANDLERS: ReadonlySet<string> = new Set([
  'reverse-sync',
  'legacy-poller',
  'consistency-check',
  'debezium-ingest',
  'rollout-gate',
  'rollout-backfill-plan',
  'rollout-backfill-chunk',
  'rollout-archive',
  'validation-plan',
  'validation-scan',
  'validation-compare',
]);

/**
 * The bundle budgets (issue 18): bytes of `index.mjs` besides the AWS SDK. The SDK clients are
 * bundled (module init measured faster than the runtime's copy: docs/infrastructure.md, "Function
 * bundles"), and as issue 18 sets it, bundled SDK clients do not count against a budget.
 */
export const BUNDLE_BUDGET = { small: 150 * 1024, legacy: 1024 * 1024 } as const;

/**
 * Whether a bundled npm package is part of the AWS SDK v3: its `@aws-sdk/*` and `@smithy/*`
 * packages, and `mnemonist`/`obliterator`, which only `@aws-sdk/endpoint-cache` (DynamoDB's
 * endpoint discovery) brings in.
 */
export function isAwsSdkPackage(name: string): boolean {
  return /^@(aws-sdk|smithy)\//.test(name) || name === 'mnemonist' || name === 'obliterator';
}
