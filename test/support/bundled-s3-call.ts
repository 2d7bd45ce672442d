/**
 * An entry bundled by test/infra/lean-s3-client.test.ts with the functions' esbuild options: the
 * validation functions' object store (`S3ObjectStore`, lambdas/adapters/s3-objects.ts) on the
 * bundled S3 client, sending what those functions send (PutObject, GetObject, ListObjectsV2
 * with and without a delimiter, paged) to `CUTOVER_TEST_ENDPOINT` (a local HTTP server), and a
 * GetObject of a missing key. Prints what it read and the error it caught, as JSON.
 */
import { NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../lambdas/adapters/s3-objects.js';

const store = new S3ObjectStore(
  'cutover-validation',
  new S3Client({
    endpoint: process.env['CUTOVER_TEST_ENDPOINT'],
    // The local server has no bucket host names.
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  }),
);
await store.put('runs/r-1/plan.json', '{"chunks":2}');
const got = await store.get('runs/r-1/plan.json');
const keys = await store.list('runs/');
const folders = await store.listFolders('runs/');
let error: Record<string, unknown> | undefined;
try {
  await store.get('runs/missing.json');
} catch (e) {
  const err = e as NoSuchKey & { RequestId?: string; Resource?: string };
  error = {
    noSuchKey: err instanceof NoSuchKey,
    name: err.name,
    message: err.message,
    fault: err.$fault,
    status: err.$metadata.httpStatusCode,
    requestId: err.RequestId,
    resource: err.Resource,
  };
}
process.stdout.write(JSON.stringify({ got, keys, folders, error }));
