/**
 * The event contract on the platform bus (DESIGN.md, "Events on the platform bus").
 *
 * Legacy changes travel as `migration.<entity>.changed`; service domain events as
 * `<entity>.updated` (or the entity's own names such as `order.placed`, `coupon.used`).
 * The EventBridge `source` is `cutover.legacy` or `cutover.service`.
 */
import { z } from 'zod';

export const EVENT_SOURCE = { legacy: 'cutover.legacy', service: 'cutover.service' } as const;
export const CONTRACT_SCHEMA_VERSION = 1;

export const OriginSchema = z.enum(['legacy', 'service']);
export type Origin = z.infer<typeof OriginSchema>;

/** A scalar field value as carried in `data`. Decimals travel as strings to keep their scale. */
export const FieldValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type FieldValue = z.infer<typeof FieldValueSchema>;

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Milliseconds since the epoch of an ISO-8601 timestamp with a zone, or undefined when it is not
 * one or names a time that does not exist. Strict where `Date.parse` is lenient: `Date.parse`
 * rolls `2026-02-30` over to March 2 and accepts hour 24; here every component must be in range
 * and the calendar date must round-trip (the day exists in that month of that year).
 */
export function parseIsoTimestamp(s: string): number | undefined {
  const m = ISO_TIMESTAMP.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (year < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps the years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const offset = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset;
}

const IsoTimestamp = z
  .string()
  .regex(ISO_TIMESTAMP, 'must be an ISO-8601 timestamp with a zone, e.g. 2026-11-22T10:00:00.123Z')
  .refine((s) => parseIsoTimestamp(s) !== undefined, 'is not a valid date');

export const ChangeEventSchema = z
  .object({
    schemaVersion: z.literal(CONTRACT_SCHEMA_VERSION, { message: 'must be 1' }),
    eventId: z.string().min(1, 'must not be empty').max(256),
    entity: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a lower snake_case entity name'),
    key: z.string().min(1, 'must not be empty').max(256),
    op: z.enum(['upsert', 'delete']),
    changedAt: IsoTimestamp,
    origin: OriginSchema,
    data: z.record(z.string(), FieldValueSchema).default({}),
    /** Counter deltas (the `sum` policy): applied exactly once per eventId. */
    deltas: z
      .record(
        z.string(),
        z.number().refine((n) => Number.isFinite(n), 'must be finite'),
      )
      .optional(),
    /**
     * Orders two changes of the same origin with the same `changedAt` (Magento timestamps have
     * one-second precision): the service's item version, the poller's observation time, or
     * Debezium's source position. Extension of DESIGN.md's contract; optional.
     */
    sequence: z.number().int().nonnegative().optional(),
    /** Set on events that a sync emitted to resolve a conflict (push-back), for tracing. */
    causedBy: z.string().max(256).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.op === 'upsert' && Object.keys(e.data).length === 0 && !e.deltas) {
      ctx.addIssue({ code: 'custom', path: ['data'], message: 'an upsert must carry data or deltas' });
    }
  });
export type ChangeEvent = z.infer<typeof ChangeEventSchema>;
export type ChangeEventInput = z.input<typeof ChangeEventSchema>;

/** An EventBridge event as delivered to a rule target (the SQS body). */
export const BusEnvelopeSchema = z.object({
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  detail: z.unknown(),
  id: z.string().optional(),
  time: z.string().optional(),
});

/** Why an input was rejected, with the path of each bad field. */
export class ContractError extends Error {
  readonly reasons: readonly string[];
  constructor(reasons: readonly string[]) {
    super(`invalid event: ${reasons.join('; ')}`);
    this.name = 'ContractError';
    this.reasons = reasons;
  }
}

function reasonsOf(error: z.ZodError, prefix: string): string[] {
  return error.issues.map((i) => {
    const path = i.path.length
      ? `${prefix}${i.path.map(String).join('.')}`
      : prefix.replace(/\.$/, '') || 'event';
    return `${path} ${i.message}`;
  });
}

/** Validates a contract `detail`. @throws ContractError saying what is wrong */
export function parseChangeEvent(detail: unknown): ChangeEvent {
  const r = ChangeEventSchema.safeParse(detail);
  if (!r.success) throw new ContractError(reasonsOf(r.error, 'detail.'));
  return r.data;
}

/** Legacy change detail type: `migration.<entity>.changed`. */
export function legacyDetailType(entity: string): string {
  return `migration.${entity}.changed`;
}

/** Default service detail type: `<entity>.updated`. */
export function serviceDetailType(entity: string): string {
  return `${entity}.updated`;
}

/**
 * Parses a full bus event (an SQS body as EventBridge delivers it) and checks that its
 * detail type agrees with the detail's origin and entity.
 * @throws ContractError
 */
export function parseBusEvent(body: unknown): { detailType: string; event: ChangeEvent } {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      throw new ContractError(['body is not JSON']);
    }
  }
  const env = BusEnvelopeSchema.safeParse(value);
  if (!env.success) throw new ContractError(reasonsOf(env.error, ''));
  const detailType = env.data['detail-type'];
  const event = parseChangeEvent(env.data.detail);
  if (event.origin === 'legacy' && detailType !== legacyDetailType(event.entity)) {
    throw new ContractError([
      `detail-type "${detailType}" does not match a legacy ${event.entity} change (expected ${legacyDetailType(event.entity)})`,
    ]);
  }
  if (event.origin === 'service' && !detailType.startsWith(`${event.entity}.`)) {
    throw new ContractError([`detail-type "${detailType}" is not a ${event.entity} service event`]);
  }
  return { detailType, event };
}

/** The EventBridge PutEvents entry for a contract event. */
export function toBusEntry(
  event: ChangeEvent,
  detailType = event.origin === 'legacy' ? legacyDetailType(event.entity) : serviceDetailType(event.entity),
): { Source: string; DetailType: string; Detail: string } {
  return { Source: EVENT_SOURCE[event.origin], DetailType: detailType, Detail: JSON.stringify(event) };
}
