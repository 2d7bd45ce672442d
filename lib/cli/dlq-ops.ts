/**
 * `cutover dlq list|peek|redrive`: each dead-letter queue is redriven the way its kind allows
 * (lib/spec/outputs.ts `QueueKind`), with its depth before and after:
 *
 * - `source-dlq`: an SQS message move task back to the source queue (the only DLQs the move
 *   task accepts: those an SQS queue's redrive policy names);
 * - `rule-target-dlq`: each message is an event EventBridge could not deliver; the bus's own
 *   events (`cutover.*` sources) are put on the bus again and deleted once accepted; others
 *   (scheduled events of the poller and the reconciliation) are left: the next schedule runs;
 * - `capture-dlq`: each message points at a batch of a service table's stream; its keys are
 *   re-read and their current state published through the capture's translation
 *   (lib/cli/capture-redrive.ts); a batch whose stream records expired is left with what to do;
 * - `rollback-dlq`: refused with what to do instead (see {@link redriveDlq}).
 *
 * Previews are masked with the one masking function (lambdas/domain/masking.ts).
 */
import { maskPii } from '../../lambdas/domain/masking.js';
import type { EventPublisher } from '../../lambdas/domain/ports.js';
import type { QueueOutput } from '../spec/outputs.js';
import { entityByName, type MigrationSpec } from '../spec/schema.js';
import { type CaptureSourcePort, recapture } from './capture-redrive.js';
import type { QueueDepth, QueueMessage, QueuesPort } from './control-plane.js';
import { CliError } from './errors.js';

export interface DlqDeps {
  readonly queues: QueuesPort;
  /** Puts events on the platform bus (EventBridgePublisher). */
  readonly bus: EventPublisher;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** A capture DLQ's stream and table (its redrive re-reads them), with the spec of its entity. */
  readonly capture?: { readonly source: CaptureSourcePort; readonly spec: MigrationSpec };
  /** Progress of a redrive, one line of text at a time. */
  readonly onProgress?: (text: string) => void;
}

export interface DlqListing extends QueueOutput {
  readonly depth: QueueDepth;
}

/** Every DLQ with its depth, deepest first. */
export async function listDlqs(
  deps: Pick<DlqDeps, 'queues'>,
  queues: readonly QueueOutput[],
): Promise<DlqListing[]> {
  const dlqs = queues.filter((q) => q.kind !== 'sync');
  const depths = await Promise.all(dlqs.map((q) => deps.queues.depth(q.url)));
  return dlqs.map((q, i) => ({ ...q, depth: depths[i]! })).sort((a, b) => b.depth.visible - a.depth.visible);
}

/** A queue by name, or by its name without the `cutover-<env>-` prefix. */
export function findQueue(queues: readonly QueueOutput[], name: string, env: string): QueueOutput {
  const q = queues.find((x) => x.name === name || x.name === `cutover-${env}-${name}`);
  if (!q) {
    throw new CliError(
      `no queue "${name}": the DLQs are ${queues
        .filter((x) => x.kind !== 'sync')
        .map((x) => x.name)
        .join(', ')}`,
    );
  }
  return q;
}

export interface PeekedMessage {
  readonly messageId: string;
  readonly receiveCount?: number;
  readonly sentAt?: string;
  /** EventBridge's reason for a rule target's DLQ (ERROR_CODE, ERROR_MESSAGE), or the sync's. */
  readonly reason?: string;
  /** The body, masked (personal data replaced) and cut to 500 characters. */
  readonly preview: string;
}

/** Up to `max` messages, left in the queue (visibility 0), masked. */
export async function peekDlq(
  deps: Pick<DlqDeps, 'queues'>,
  queue: QueueOutput,
  max: number,
): Promise<PeekedMessage[]> {
  const messages = await deps.queues.receive(queue.url, max, 0);
  return messages.map(previewOf);
}

function previewOf(m: QueueMessage): PeekedMessage {
  const a = m.messageAttributes;
  const reason = [a['ERROR_CODE'], a['ERROR_MESSAGE'] ?? a['reason']].filter(Boolean).join(': ');
  const sent = Number(m.attributes['SentTimestamp']);
  const body = maskPii(m.body);
  return {
    messageId: m.messageId,
    ...(m.attributes['ApproximateReceiveCount']
      ? { receiveCount: Number(m.attributes['ApproximateReceiveCount']) }
      : {}),
    ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}),
    ...(reason ? { reason: maskPii(reason) } : {}),
    preview: body.length > 500 ? `${body.slice(0, 500)}…` : body,
  };
}

export interface RedriveResult {
  readonly queue: string;
  readonly kind: QueueOutput['kind'];
  readonly method: 'sqs-move-task' | 'republish' | 'recapture';
  readonly before: number;
  readonly after: number;
  /** Re-published (republish) or moved (move task). */
  readonly redriven: number;
  /** Left in the queue, with why. */
  readonly left: number;
  readonly notes: readonly string[];
  readonly taskHandle?: string;
}

/** Redrives a DLQ by its kind. @throws CliError for the kinds that are not replayed */
export async function redriveDlq(
  deps: DlqDeps,
  queue: QueueOutput,
  options: { readonly waitMs: number; readonly pollMs: number },
): Promise<RedriveResult> {
  switch (queue.kind) {
    case 'source-dlq':
      return moveBack(deps, queue, options);
    case 'rule-target-dlq':
      return republish(deps, queue);
    case 'rollback-dlq':
      throw new CliError(
        `${queue.name} holds alarms whose automatic rollback did not run; replaying them is not the fix: read them (cutover dlq peek ${queue.name}), then roll the service back with cutover rollback <service>`,
      );
    case 'capture-dlq':
      return recaptureAll(deps, queue);
    case 'sync':
      throw new CliError(`${queue.name} is a sync queue, not a dead-letter queue`);
  }
}

async function moveBack(
  deps: DlqDeps,
  queue: QueueOutput,
  options: { waitMs: number; pollMs: number },
): Promise<RedriveResult> {
  const before = (await deps.queues.depth(queue.url)).visible;
  if (before === 0) {
    return {
      queue: queue.name,
      kind: queue.kind,
      method: 'sqs-move-task',
      before,
      after: 0,
      redriven: 0,
      left: 0,
      notes: ['empty'],
    };
  }
  const taskHandle = await deps.queues.startMoveTask(queue.arn);
  const until = deps.now() + options.waitMs;
  let status = 'RUNNING';
  let moved = 0;
  const notes: string[] = [];
  for (;;) {
    const [task] = await deps.queues.moveTasks(queue.arn);
    status = task?.status ?? status;
    moved = task?.moved ?? moved;
    if (task?.failureReason) notes.push(`move task failed: ${task.failureReason}`);
    deps.onProgress?.(
      `${queue.name}: move task ${status.toLowerCase()}, ${moved}${task?.toMove !== undefined ? ` moved, ${task.toMove} to move` : ' moved'}`,
    );
    if (status !== 'RUNNING' || deps.now() >= until) break;
    await deps.sleep(options.pollMs);
  }
  if (status === 'RUNNING')
    notes.push(
      `move task still running after ${Math.round(options.waitMs / 1000)} s (cutover dlq list shows the depth)`,
    );
  const after = (await deps.queues.depth(queue.url)).visible;
  return {
    queue: queue.name,
    kind: queue.kind,
    method: 'sqs-move-task',
    before,
    after,
    redriven: moved,
    left: after,
    notes,
    taskHandle,
  };
}

/** An event as EventBridge writes it into a rule target's DLQ (the event itself is the body). */
interface DeadEvent {
  readonly source?: unknown;
  readonly 'detail-type'?: unknown;
  readonly detail?: unknown;
}

/** What redriving one message came to: done (the message is then deleted), or left with why. */
type MessageOutcome = { readonly done: true; readonly note?: string } | { readonly left: string };

/**
 * One pass over a DLQ: each message read once (hidden for 60 s as it is read), handed to
 * `handle`, deleted only once it is done (a failure leaves it for the next redrive); the depth
 * before and after, and why messages were left, counted by reason.
 */
async function onePass(
  deps: DlqDeps,
  queue: QueueOutput,
  method: RedriveResult['method'],
  handle: (m: QueueMessage) => Promise<MessageOutcome>,
): Promise<RedriveResult> {
  const before = (await deps.queues.depth(queue.url)).visible;
  let redriven = 0;
  let left = 0;
  const notes = new Map<string, number>();
  const note = (n: string) => notes.set(n, (notes.get(n) ?? 0) + 1);
  const seen = new Set<string>();
  while (seen.size < before) {
    const batch = await deps.queues.receive(queue.url, 10, 60);
    if (batch.length === 0) break;
    for (const m of batch) {
      if (seen.has(m.messageId)) continue;
      seen.add(m.messageId);
      const r = await handle(m);
      if ('done' in r) {
        await deps.queues.delete(queue.url, m.receiptHandle);
        redriven++;
        if (r.note) note(r.note);
      } else {
        left++;
        note(r.left);
      }
      deps.onProgress?.(`${queue.name}: ${seen.size}/${before} read, ${redriven} redriven, ${left} left`);
    }
  }
  const after = (await deps.queues.depth(queue.url)).visible;
  return {
    queue: queue.name,
    kind: queue.kind,
    method,
    before,
    after,
    redriven,
    left,
    notes: [...notes].map(([n, c]) => `${c} × ${n}`),
  };
}

function republish(deps: DlqDeps, queue: QueueOutput): Promise<RedriveResult> {
  return onePass(deps, queue, 'republish', async (m) => {
    let e: DeadEvent;
    try {
      e = JSON.parse(m.body) as DeadEvent;
    } catch {
      return { left: 'not an event (left in the queue)' };
    }
    if (
      typeof e.source !== 'string' ||
      typeof e['detail-type'] !== 'string' ||
      !e.source.startsWith('cutover.')
    ) {
      return { left: `${String(e.source)} events left (a schedule's: its next run does the work)` };
    }
    await deps.bus.publish([
      { Source: e.source, DetailType: e['detail-type'], Detail: JSON.stringify(e.detail ?? {}) },
    ]);
    return { done: true };
  });
}

/**
 * Each message of a capture DLQ: the keys of its stream batch re-read and their current state
 * published (lib/cli/capture-redrive.ts), the message deleted once that is done. A batch whose
 * stream records can no longer be read stays, with the reconciliation to run instead.
 */
async function recaptureAll(deps: DlqDeps, queue: QueueOutput): Promise<RedriveResult> {
  const capture = deps.capture;
  if (!capture || !queue.entity) {
    throw new CliError(`${queue.name}: a capture DLQ's redrive needs its entity and the table's stream`);
  }
  const { entity } = entityByName(capture.spec, queue.entity);
  let published = 0;
  const r = await onePass(deps, queue, 'recapture', async (m) => {
    const o = await recapture({ source: capture.source, bus: deps.bus }, entity, m.body);
    if (o.outcome === 'republished') {
      published += o.published;
      return o.unchanged
        ? {
            done: true,
            note: "batch(es) with a key whose current item is the sync's own write (nothing to send)",
          }
        : { done: true };
    }
    return {
      left:
        o.outcome === 'expired'
          ? `batch(es) left: ${o.reason}; their keys are unknown: run the reconciliation with repair for ${queue.entity} (docs/sync.md), then purge them`
          : `message(s) left: ${o.reason}`,
    };
  });
  return { ...r, notes: [`${published} event(s) published from the current items`, ...r.notes] };
}
