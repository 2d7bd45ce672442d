import '../support/verbose-powertools.js';
import '../support/quiet-powertools.js';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConflictStore } from '../../lambdas/adapters/dynamodb-sync-state.js';
import { EnvelopeCipher, LocalDataKeys } from '../../lambdas/adapters/field-cipher.js';
import type { DeadLetterReason } from '../../lambdas/adapters/sqs-dead-letter.js';
import { listOpenConflicts, resolveConflict } from '../../lambdas/domain/conflict-resolution.js';
import { PersonalDataSealer } from '../../lambdas/domain/personal-data.js';
import type { BusEvent } from '../../lambdas/domain/ports.js';
import { handler as forward } from '../../lambdas/handlers/forward-sync.js';
import { handler as reverse } from '../../lambdas/handlers/reverse-sync.js';
import { runtime } from '../../lambdas/handlers/runtime.js';
import { configureDeadLetter } from '../../lambdas/handlers/sqs-batch.js';
import type { CliContext } from '../../lib/cli/operator-commands.js';
import { LocalQueue } from '../../lib/rehearse/local-aws.js';
import { PLATFORM_OUTPUT, platformStackName } from '../../lib/spec/outputs.js';
import type { MigrationSpec } from '../../lib/spec/schema.js';
import { deployedOutputs, runCli } from '../support/cli.js';
import {
  busEnvelope,
  getItem,
  invokeSqs,
  magentoForPolling,
  nextSecond,
  pollNow,
  type SyncEnv,
  seedFromLegacy,
  serviceChange,
  setupSyncEnv,
  splitByOrigin,
  sqsEvent,
} from '../support/sync-env.js';

/**
 * Issue 17, item 3: `pii: true` fields stay out of logs, DLQ reasons, the conflicts table and the
 * sync state. A fixture customer with a unique probe email runs through the real sync against
 * MariaDB and DynamoDB Local: backfill, a concurrent email change on both sides that the `admin`
 * policy parks, the operator CLI's listing of it, two bad service events that go to a DLQ (a
 * contract violation, dead-lettered by the function with its reason; one that Magento refuses
 * with an error quoting the email, moved by SQS after its deliveries), and the conflict's
 * resolution. Every Powertools log line, every DLQ reason (the dead-letter reason attributes and
 * the logged reason of each failed delivery), the CLI's output without --reveal, every conflicts
 * item and
 * every sync-table item is searched for the probe: it is
 * found only in the service table and the Magento table. The DLQ keeps each message as it was
 * sent (the event itself, for redrive: what the bus carries, encrypted at rest by the queue).
 */
describe('Personal data: sealed at rest, masked in logs', () => {
  const probe = `pii-probe-${Math.random().toString(36).slice(2, 10)}`;
  const email = (tag: string) => `${probe}${tag}@example.com`;
  const keys = new LocalDataKeys();
  let env: SyncEnv;
  const lines: string[] = [];
  /** Records the sync function dead-lettered itself, with the reason it attached. */
  const deadLettered: { body: string; why: DeadLetterReason }[] = [];
  /** What the operator CLI printed without --reveal. */
  const cliOutput: string[] = [];
  const restore: (() => void)[] = [];

  /** The customer email policy `admin`: a concurrent edit is parked for a person. */
  function specWithAdminEmail(): MigrationSpec {
    const spec = structuredClone(magentoForPolling());
    const customer = spec.services[0]!.entities.find((e) => e.name === 'customer')!;
    const fields = customer.fields.map((f) => (f.name === 'email' ? { ...f, policy: 'admin' as const } : f));
    (customer as { fields: typeof fields }).fields = fields;
    return spec;
  }

  beforeAll(async () => {
    configureDeadLetter({
      send: async (record, why) => {
        deadLettered.push({ body: record.body, why });
      },
    });
    env = await setupSyncEnv('pii-protection', {
      spec: specWithAdminEmail(),
      cipher: new EnvelopeCipher(keys),
    });
    // Every log line Powertools writes (JSON to stdout/stderr), at DEBUG (verbose-powertools).
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      // Kept, not echoed: DEBUG lines would flood the run's output.
      stream.write = ((chunk: string | Uint8Array) => {
        lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      }) as typeof stream.write;
      restore.push(() => {
        stream.write = write as typeof stream.write;
      });
    }
  });
  afterAll(async () => {
    for (const r of restore) r();
    configureDeadLetter(undefined);
    await env?.close();
  });

  const ok = async (handler: unknown, entries: BusEvent[]) =>
    expect((await invokeSqs(handler, sqsEvent(entries))).failedIndexes).toEqual([]);

  /** SQS with a redrive policy: deliveries until `maxReceiveCount`, then the DLQ. */
  async function deliverUntilDlq(handler: unknown, bodies: string[]) {
    const dlq = new LocalQueue({ id: 'dlq', name: 'dlq', visibilityTimeoutSeconds: 0 }, 1);
    const queue = new LocalQueue(
      {
        id: 'q',
        name: 'q',
        visibilityTimeoutSeconds: 0,
        redrive: { deadLetterQueue: 'dlq', maxReceiveCount: 3 },
      },
      1,
      dlq,
    );
    for (const b of bodies) queue.send(b);
    for (let round = 0; round < 10 && queue.depth > 0; round++) {
      for (const m of queue.receive(10)) {
        const res = await invokeSqs(handler, sqsEvent([m.body], m.receiveCount));
        if (res.failedIndexes.length) queue.release(m.messageId);
        else queue.delete(m.messageId);
      }
    }
    return dlq;
  }

  it('finds the probe only in the service table and the Magento table', async () => {
    // A Magento customer, brought over by the backfill (the forward sync).
    const [r] = await env.db.query<ResultSetHeader>(
      `INSERT INTO customer_entity (website_id, email, group_id, store_id, firstname, lastname, is_active, updated_at)
       VALUES (1, ?, 1, 1, 'Probe', 'Person', 1, NOW() - INTERVAL 60 SECOND)`,
      [email('')],
    );
    const id = String(r.insertId);
    await seedFromLegacy(env, 'customer', id);
    await pollNow(['customer']);
    env.publisher.take();

    // Both sides change the email since the last sync: the admin policy parks it.
    const fromService = await serviceChange(env, 'customer', id, { email: email('+service') });
    await nextSecond();
    await env.db.query('UPDATE customer_entity SET email = ? WHERE entity_id = ?', [email('+legacy'), id]);
    await nextSecond(); // the poller reads closed seconds
    await pollNow(['customer']);
    const { forward: fromLegacy } = splitByOrigin(env.publisher.take());
    expect(fromLegacy.length).toBeGreaterThan(0);
    await ok(forward, fromLegacy);
    await ok(reverse, fromService);
    const rt = await runtime();
    const open = (await listOpenConflicts(rt, { entity: 'customer' })).items;
    const parked = open.find((c) => c.key === id && c.field === 'email');
    // The resolver opens the sealed values.
    expect(parked).toMatchObject({
      legacy: { value: email('+legacy') },
      service: { value: email('+service') },
    });

    // The CLI: without --reveal the personal values are withheld (the store is read without the
    // key); with --reveal they are opened under the resolver's grant.
    const outputs = deployedOutputs('t', env.spec, { conflictsTable: env.tables.conflictsTable });
    const cli = (): CliContext => ({
      stacks: { outputs: async (name) => outputs[name]! },
      executions: undefined as never,
      mapRuns: undefined as never,
      queues: undefined as never,
      metrics: undefined as never,
      metricQueries: undefined as never,
      flags: () => undefined as never,
      publisher: () => env.publisher,
      conflicts: (table, d) =>
        new DynamoConflictStore(
          env.dynamo,
          table,
          d ? new PersonalDataSealer(env.spec, new EnvelopeCipher(keys)) : undefined,
        ),
      sync: async () => ({ ...rt, close: async () => {} }),
      captureSource: async () => undefined as never,
      now: Date.now,
      sleep: async () => {},
    });
    const list = (...more: string[]) =>
      runCli(
        cli,
        'conflicts',
        'list',
        '--env',
        't',
        '--migration',
        'magento',
        '--entity',
        'customer',
        ...more,
      );
    const withheld = await list();
    expect(withheld.code).toBe(0);
    expect(withheld.out).toContain(parked!.conflictId);
    cliOutput.push(withheld.out, withheld.err);
    outputs[platformStackName('t')]![PLATFORM_OUTPUT.personalDataKeyArn('magento')] =
      'arn:aws:kms:local:key/test';
    const revealed = await list('--reveal');
    expect(revealed.out).toContain(email('+service'));

    // Two bad service events of the customer, each to the DLQ after its deliveries: a contract
    // violation, and a record Magento refuses (another customer with this email: the driver's
    // "Duplicate entry '<email>-1'" message).
    const bad = busEnvelope({
      ...fromService[0]!,
      Detail: JSON.stringify({
        ...JSON.parse(fromService[0]!.Detail),
        data: { email: email('+bad'), isActive: 'yes' },
      }),
    });
    const twinKey = `svc-${probe}`;
    const twin = (await serviceChange(env, 'customer', twinKey, {
      email: email('+legacy'),
      firstName: 'Twin',
      lastName: 'Probe',
      groupId: 1,
      isActive: 1,
      websiteId: 1,
    })) as BusEvent[];
    const bodies = [bad, busEnvelope(twin[0]!)];
    const dlq = await deliverUntilDlq(reverse, bodies);
    // The contract violation is dead-lettered by the function at its first delivery, with its
    // reason as message attributes; the one Magento refuses by SQS after its deliveries. Each
    // DLQ keeps the message as sent, for redrive.
    expect(deadLettered.map((d) => d.body)).toEqual([bad]);
    expect(dlq.bodies()).toEqual([bodies[1]]);
    expect(deadLettered[0]!.why).toMatchObject({
      error: 'ContractError',
      reason: expect.stringContaining('isActive'),
    });
    const reasons = lines.filter((l) => l.includes('record failed'));
    expect(reasons.length).toBeGreaterThanOrEqual(3);
    expect(reasons.some((l) => l.includes('Duplicate entry'))).toBe(true);

    // A person resolves the conflict: both sides get the service's value.
    const result = await resolveConflict(rt, {
      conflictId: parked!.conflictId,
      choice: 'service',
      by: 'ops',
    });
    expect(result.outcome).toBe('resolved');

    // Where the probe is intended: the two record stores.
    const [[row]] = (await env.db.query<RowDataPacket[]>(
      'SELECT email FROM customer_entity WHERE entity_id = ?',
      [id],
    )) as unknown as [[{ email: string }]];
    expect(row.email).toBe(email('+service'));
    expect((await getItem(env, 'customer', id))?.['email']).toBe(email('+service'));

    // Nowhere else.
    const scan = async (table: string) =>
      (await env.dynamo.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
    const conflicts = await scan(env.tables.conflictsTable);
    const syncItems = await scan(env.tables.syncTable);
    expect(conflicts.length).toBeGreaterThan(0);
    expect(syncItems.some((i) => String(i['pk']).startsWith(`state#customer#${id}`))).toBe(true);
    const leaks = [
      ...lines.filter((l) => l.includes(probe)).map((l) => `log: ${l.slice(0, 300)}`),
      ...cliOutput.filter((l) => l.includes(probe)).map((l) => `cli: ${l.slice(0, 300)}`),
      ...deadLettered
        .filter((d) => JSON.stringify(d.why).includes(probe))
        .map((d) => `DLQ reason: ${d.why.reason}`),
      ...conflicts
        .filter((i) => JSON.stringify(i).includes(probe))
        .map((i) => `conflict: ${i['conflictId']}`),
      ...syncItems.filter((i) => JSON.stringify(i).includes(probe)).map((i) => `sync table: ${i['pk']}`),
    ];
    expect(leaks).toEqual([]);
    // The stored conflict's values are sealed, not blank.
    const stored = conflicts.find((c) => c['conflictId'] === parked!.conflictId)!;
    expect(stored['legacy']).toMatchObject({ value: { $sealed: expect.stringMatching(/^v1\./) } });
    expect(stored['resolution']).toMatchObject({ value: { $sealed: expect.stringMatching(/^v1\./) } });
    expect(lines.length).toBeGreaterThan(5);

    // A role whose key grant covers the sync state only (the sync functions) cannot open the conflict.
    const syncOnly = new DynamoConflictStore(
      env.dynamo,
      env.tables.conflictsTable,
      new PersonalDataSealer(env.spec, new EnvelopeCipher(keys.withGrant(['sync-state']))),
    );
    await expect(syncOnly.get(parked!.conflictId)).rejects.toThrow(/may not decrypt conflicts/);
  });
});
