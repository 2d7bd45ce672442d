/**
 * An entry bundled by test/infra/bundling.test.ts with the functions' esbuild options: one AWS
 * SDK client built and one request sent, to `CUTOVER_TEST_ENDPOINT` (a local HTTP server), so
 * that the bundled SDK, with its Node built-ins aliased (NODE_BUILTINS_WITHOUT_FACADE), is seen
 * sending a real request. Prints the response's entry count. Fixed test credentials, or with
 * `CUTOVER_TEST_CREDENTIALS=default-chain` the SDK's default credential chain (as bundled).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';

const client = new EventBridgeClient({
  endpoint: process.env['CUTOVER_TEST_ENDPOINT'],
  region: 'us-east-1',
  // `CUTOVER_TEST_CREDENTIALS=default-chain`: the SDK's default chain, as a function has it.
  ...(process.env['CUTOVER_TEST_CREDENTIALS'] === 'default-chain'
    ? {}
    : { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  maxAttempts: 1,
});
const out = await client.send(
  new PutEventsCommand({ Entries: [{ Source: 'cutover.test', DetailType: 'ping', Detail: '{}' }] }),
);
process.stdout.write(String(out.Entries?.length));
