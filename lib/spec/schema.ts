/**
 * The migration spec: one typed, validated document per migration (`migrations/*.ts`).
 *
 * Everything Cutover deploys and every decision its Lambdas take is derived from this spec:
 * the sync channels, the service tables, the flags, the alarms, the rollout state machines and
 * the conflict policies. A bad spec fails `cdk synth` with a {@link SpecError} naming the path of
 * the bad field by the names in the spec (for example
 * `services.customer.entities.customer.fields.email.column`).
 *
 * Validation runs at synthesis only: the functions get the validated spec as plain JSON in their
 * bundle (lib/constructs/cutover-function.ts) and read it with the zod-free lookups of
 * `lookup.ts`, re-exported here.
 */
import { z } from 'zod';
import { isCredentialColumn } from '../../lambdas/domain/archive.js';
import { isNormalPrefix } from '../../lambdas/domain/request-path.js';
import { pollerLagBoundSeconds, SpecError } from './lookup.js';

export {
  entityByName,
  fieldPolicy,
  hasReferences,
  keyMapEntity,
  legacyEventOf,
  pollerLagBoundSeconds,
  SpecError,
  type SpecIssue,
  serviceEventsOf,
} from './lookup.js';

/** Identifier usable in AWS resource names, flag names and event detail types. */
const Name = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must be lower snake_case: a letter, then letters, digits or "_"');

/** A SQL identifier (table or column). Only ever taken from the spec, never from event data. */
const SqlIdentifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain SQL identifier (letters, digits, "_"; max 64)');

/** How a true conflict (a change on both sides since the last sync) is resolved. */
export const ConflictPolicySchema = z.enum(['timestamp', 'service-wins', 'legacy-wins', 'admin', 'sum']);
export type ConflictPolicy = z.infer<typeof ConflictPolicySchema>;

/** `strong`: no batching, lag alarm at 5 s. `eventual`: batched, lag alarm at 5 min. */
export const ConsistencySchema = z.enum(['strong', 'eventual']);
export type Consistency = z.infer<typeof ConsistencySchema>;

export const FieldTypeSchema = z.enum(['string', 'integer', 'decimal', 'boolean', 'timestamp', 'date']);
export type FieldType = z.infer<typeof FieldTypeSchema>;

/** Magento EAV backend types (the value table is `<entity table>_<backendType>`). */
export const EavBackendTypeSchema = z.enum(['varchar', 'decimal', 'int', 'text', 'datetime']);

export const FieldSchema = z
  .object({
    /** Attribute name on the service side and in the event `data`. */
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]*$/, 'must be an identifier'),
    type: FieldTypeSchema,
    /** Column on the legacy entity table (mysql legacy). */
    column: SqlIdentifier.optional(),
    /** EAV attribute (mysql legacy): value read from `<table>_<backendType>` at store_id 0. */
    eav: z
      .object({
        attributeCode: SqlIdentifier,
        backendType: EavBackendTypeSchema,
      })
      .strict()
      .optional(),
    /** JSON property of the legacy resource (http legacy). @default - the field name */
    property: z.string().min(1).optional(),
    /** Per-field policy. @default - the entity's policy */
    policy: ConflictPolicySchema.optional(),
    /** Decimal scale (digits after the point), used to normalise values for comparison. */
    scale: z.number().int().min(0).max(10).optional(),
    /** Whether the field may be null/absent. @default true */
    nullable: z.boolean().default(true),
    /**
     * Personal data: sealed (envelope encryption under the migration's personal-data KMS key) in
     * the sync state and the conflicts table, where only the conflict resolver may open it; never
     * written to logs (errors are masked: lambdas/domain/masking.ts). See docs/sync.md.
     * @default false
     */
    pii: z.boolean().default(false),
    /**
     * The field holds the key of another entity's record (an order's `customerId`, an order
     * item's `orderId`): the service side holds that record's service key, the legacy side its
     * legacy key. The sync translates the value through the referenced entity's key map in both
     * directions, and a change waits (is retried) while the referenced record has not reached the
     * side being written. The field's type must match the referenced entity's key type
     * (`string` for `keyType: 'string'`, `integer` for `keyType: 'number'`).
     */
    references: z.object({ entity: Name }).strict().optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.column && f.eav) {
      ctx.addIssue({
        code: 'custom',
        path: ['eav'],
        message: 'a field maps either to a column or to an EAV attribute, not both',
      });
    }
    if (f.type === 'decimal' && f.scale === undefined) {
      ctx.addIssue({ code: 'custom', path: ['scale'], message: 'decimal fields need a scale' });
    }
  });
export type FieldSpec = z.infer<typeof FieldSchema>;

export const MysqlEntityLegacySchema = z
  .object({
    table: SqlIdentifier,
    /** Primary key column of the legacy row. */
    key: SqlIdentifier,
    /**
     * Column bumped on every change (Magento: `updated_at`, TIMESTAMP, second precision).
     * Absent for tables without one (EAV values, stock, coupons): those are captured by
     * comparing a per-row checksum of the mapped columns instead (see the poller).
     */
    updatedAt: SqlIdentifier.optional(),
    /** Fixed column values selecting the rows of this entity, e.g. `{ stock_id: 1 }`. */
    where: z.record(SqlIdentifier, z.union([z.string(), z.number()])).optional(),
    /** Magento EAV entity type code for `eav` fields, e.g. `catalog_product`. */
    eavEntityType: z.string().optional(),
    /** Columns that must be set when the sync creates a row (NOT NULL without default). */
    insertDefaults: z.record(SqlIdentifier, z.union([z.string(), z.number()])).optional(),
    /**
     * The key column holds another entity's legacy key (stock: `product_id` is the product's
     * `entity_id`). The entity has no key map of its own: its service key is the referenced
     * record's service key, translated through that entity's key map; a row is created under the
     * referenced record's legacy key, and waits (is retried) until that record has reached the
     * legacy side.
     */
    keyReferences: Name.optional(),
    /**
     * Columns of `table` the decommission archive (phase 5) keeps besides the mapped ones (key,
     * `updatedAt`, `where`, the fields' columns). Nothing else is archived; a credential column
     * (password hash, reset token, secret, …) is refused.
     * @default - the mapped columns only
     */
    archiveColumns: z
      .array(
        SqlIdentifier.refine((c) => !isCredentialColumn(c), {
          message: 'a credential column is never archived',
        }),
      )
      .optional(),
  })
  .strict();

export const HttpEntityLegacySchema = z
  .object({
    /** Collection path on the legacy API, e.g. `/menu-items`. */
    path: z.string().regex(/^\/[A-Za-z0-9_\-/]*$/, 'must be an absolute URL path'),
    /** Property holding the resource id. */
    key: z.string().min(1),
    /** Property with the resource version, sent as If-Match. @default - no conditional writes */
    versionProperty: z.string().optional(),
    /** Property with the last-modified time (for the watermark poller). */
    updatedAt: z.string().optional(),
  })
  .strict();

export const TargetSchema = z
  .object({
    /** Partition key attribute of the service table. */
    key: z.string().min(1),
    keyType: z.enum(['string', 'number']).default('string'),
    /** Import an existing table by name instead of creating one. @default - created by the stack */
    tableName: z.string().optional(),
    /** Attribute used for optimistic locking. @default 'version' */
    versionAttribute: z.string().default('version'),
    /** Attribute with the last change time (ISO-8601). @default 'updatedAt' */
    updatedAtAttribute: z.string().default('updatedAt'),
  })
  .strict();

export const EntitySchema = z
  .object({
    name: Name,
    /** Legacy mapping; its shape must match the migration's legacy kind. */
    legacy: z.union([MysqlEntityLegacySchema, HttpEntityLegacySchema]),
    target: TargetSchema,
    fields: z.array(FieldSchema).min(1, 'an entity needs at least one field'),
    /** Default policy for the entity's fields. */
    policy: ConflictPolicySchema,
    consistency: ConsistencySchema,
    /** Service domain events that carry this entity's changes. @default ['<entity>.updated'] */
    serviceEvents: z.array(z.string().regex(/^[a-z_]+\.[a-z_]+$/)).optional(),
    /**
     * Who wins a tie: two changes whose `changedAt` fall in the same legacy-precision tick.
     * @default 'service'
     */
    tieBreak: z.enum(['service', 'legacy']).default('service'),
    /**
     * What a record born on the service side needs to be created on the legacy side. A create
     * the rules refuse fails with a `CreateRefusedError` carrying `reason` (to the DLQ), before
     * anything is written. @default - any service-born record is created
     */
    create: z
      .object({
        /** Whether a service-born record may be created on the legacy side at all. @default true */
        legacy: z.boolean().default(true),
        /** Fields a legacy create must carry, not null (the row's NOT NULL columns without default). @default [] */
        legacyRequires: z.array(z.string()).default([]),
        /** Why: said with every refused create. */
        reason: z.string().min(1),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const names = new Set<string>();
    e.fields.forEach((f, i) => {
      if (names.has(f.name)) {
        ctx.addIssue({ code: 'custom', path: ['fields', i, 'name'], message: `duplicate field "${f.name}"` });
      }
      names.add(f.name);
      const policy = f.policy ?? e.policy;
      if (policy === 'sum' && f.type !== 'integer' && f.type !== 'decimal') {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', i, 'policy'],
          message: 'the sum policy applies only to integer or decimal counters',
        });
      }
    });
    if (e.policy === 'sum' && !e.fields.some((f) => (f.policy ?? e.policy) === 'sum')) {
      ctx.addIssue({ code: 'custom', path: ['policy'], message: 'sum policy but no counter field' });
    }
    e.create?.legacyRequires.forEach((name, i) => {
      if (!names.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['create', 'legacyRequires', i],
          message: `"${name}" is not a field of ${e.name}`,
        });
      }
    });
  });
export type EntitySpec = z.infer<typeof EntitySchema>;

export const RouteSchema = z
  .object({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'ANY']),
    /**
     * Path prefix in normal form (`/customers`): no `.`/`..` or empty segments, no `\`, no
     * %-escapes. Requests are normalized before matching, so no other spelling could ever match.
     */
    pathPrefix: z
      .string()
      .regex(/^\//, 'must start with "/"')
      .refine(isNormalPrefix, 'must be in normal form: no "." or ".." segments, "//", "\\" or %-escapes'),
    access: z.enum(['read', 'write']),
  })
  .strict();
export type RouteSpec = z.infer<typeof RouteSchema>;

const Ratio = z.number().min(0).max(1);

export const GateThresholdsSchema = z
  .object({
    /** Fail when the error rate is at or above this ratio. @default 0.001 (seed: < 0.1 %) */
    maxErrorRate: Ratio.default(0.001),
    /** Fail when p95 latency (ms) is at or above this. @default 200 */
    maxP95Ms: z.number().positive().default(200),
    /** Fail when consistency is below this ratio. @default 0.9999 */
    minConsistency: Ratio.default(0.9999),
    /** Fail when dual-write success is below this ratio. @default 0.999 */
    minDualWriteSuccess: Ratio.default(0.999),
    /** Fail when the DLQs hold more than this many messages. @default 0 */
    maxDlqDepth: z.number().int().min(0).default(0),
    /** Fail when added write latency (ms) of dual-write is at or above this. @default 50 */
    maxAddedWriteLatencyMs: z.number().positive().default(50),
  })
  .strict();
export type GateThresholds = z.infer<typeof GateThresholdsSchema>;

export const RolloutSchema = z
  .object({
    /** Read percentages of the canary phase, strictly increasing, ending at 100. */
    canarySteps: z.array(z.number().int().min(1).max(100)).min(1).default([10, 25, 50, 75, 100]),
    /** Bake time after each flag change before its gate (minutes). @default 30 */
    bakeMinutes: z.number().int().min(0).default(30),
    /** Bake time of each canary step (minutes). @default - bakeMinutes */
    canaryBakeMinutes: z.number().int().min(0).optional(),
    gates: GateThresholdsSchema.default(GateThresholdsSchema.parse({})),
    /** What a gate does when the bake window has no data. @default 'extend' */
    onMissingData: z.enum(['fail', 'extend']).default('extend'),
    /** How many times a bake may be extended for missing data. @default 2 */
    maxBakeExtensions: z.number().int().min(0).max(10).default(2),
    /** Ask a person before cutting writes over (phase 4). @default false */
    approveBeforeCutover: z.boolean().default(false),
    /** How long an approval waits for an answer (hours). @default 72 */
    approvalTimeoutHours: z
      .number()
      .positive()
      .max(24 * 365)
      .default(72),
    /** Concurrent backfill chunks. @default 4 */
    backfillConcurrency: z.number().int().min(1).max(1000).default(4),
    /** Keys per backfill chunk. @default 5000 */
    backfillChunkSize: z.number().int().min(1).default(5000),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (let i = 1; i < r.canarySteps.length; i++) {
      if (r.canarySteps[i]! <= r.canarySteps[i - 1]!) {
        ctx.addIssue({
          code: 'custom',
          path: ['canarySteps', i],
          message: 'canary steps must be strictly increasing',
        });
      }
    }
    if (r.canarySteps[r.canarySteps.length - 1] !== 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['canarySteps', r.canarySteps.length - 1],
        message: 'the last canary step must be 100',
      });
    }
  });
export type RolloutSpec = z.infer<typeof RolloutSchema>;

export const ServiceSchema = z
  .object({
    name: Name,
    description: z.string().optional(),
    risk: z.enum(['low', 'medium', 'high']),
    /** Base URL of the new service (the gateway's upstream). */
    serviceUrl: z.string().url(),
    /** Base URL of the legacy API for this service's routes. */
    legacyUrl: z.string().url(),
    /** Requests the gateway routes by this service's flags. */
    routes: z.array(RouteSchema).default([]),
    entities: z.array(EntitySchema).min(1, 'a service owns at least one entity'),
    rollout: RolloutSchema.default(RolloutSchema.parse({})),
  })
  .strict();
export type ServiceSpec = z.infer<typeof ServiceSchema>;

export const MysqlLegacySchema = z
  .object({
    kind: z.literal('mysql'),
    /** Secrets Manager secret with host, port, username, password, dbname. */
    secretName: z.string().min(1),
    database: SqlIdentifier,
    /** Magento's configured table prefix. @default '' */
    tablePrefix: z
      .string()
      .regex(/^[A-Za-z0-9_]*$/)
      .default(''),
    /** RDS Proxy endpoint to connect through. @default - the secret's host */
    rdsProxyEndpoint: z.string().optional(),
    /**
     * PEM of the CA that signed the database's TLS certificate (a self-managed MySQL).
     * Connections always use TLS and verify the certificate.
     * @default - the Amazon RDS CA bundle (RDS, Aurora, RDS Proxy)
     */
    tlsCaPem: z.string().includes('-----BEGIN CERTIFICATE-----').optional(),
    /**
     * ARN of the customer-managed KMS key the secret is encrypted with (the functions get
     * `kms:Decrypt` on it through Secrets Manager). @default - the AWS managed key aws/secretsmanager
     */
    secretKeyArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/,
        'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)',
      )
      .optional(),
    /** Network of the database. @default - dev creates a VPC; other stages must name one */
    network: z
      .object({
        vpcId: z.string().regex(/^vpc-[0-9a-f]+$/),
        subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]+$/)).min(1),
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]+$/)).min(1),
      })
      .strict()
      .optional(),
    /** Timestamps of the legacy side are whole seconds. @default 1000 */
    timestampPrecisionMs: z.number().int().positive().default(1000),
  })
  .strict();

export const HttpLegacySchema = z
  .object({
    kind: z.literal('http'),
    baseUrl: z.string().url(),
    /** Secrets Manager secret holding an API token. @default - no auth header */
    tokenSecretName: z.string().optional(),
    timeoutMs: z.number().int().positive().default(2000),
    maxRetries: z.number().int().min(0).max(10).default(3),
    timestampPrecisionMs: z.number().int().positive().default(1),
  })
  .strict();

export const SyncSettingsSchema = z
  .object({
    /** SQS batch size of the sync functions. @default 10 */
    batchSize: z.number().int().min(1).max(10000).default(10),
    /** Batching window of `eventual` entities (seconds). @default 5 */
    eventualBatchingWindowSeconds: z.number().int().min(0).max(300).default(5),
    /** Deliveries before a message moves to the DLQ. @default 5 */
    maxReceiveCount: z.number().int().min(1).max(1000).default(5),
    /** Cap on concurrent reverse-sync invocations (protects the legacy database). @default 2 */
    reverseMaxConcurrency: z.number().int().min(2).max(1000).default(2),
    /**
     * Poller schedule (minutes): one invocation starts per period and polls continuously for
     * it (see `pollerIntervalSeconds`), so the function timeout is the period plus a handover
     * window and a safety margin (lambdas/domain/poller-loop.ts `pollerTiming`); Lambda's
     * 15-minute limit caps the period at 14 minutes. @default 1
     */
    pollerIntervalMinutes: z.number().int().min(1).max(14).default(1),
    /**
     * Seconds between two polls of an entity within one invocation (keyset by `updated_at`, and
     * the snapshot comparison of `strong` entities). Each poll is one keyset query per entity
     * (docs/sync.md, "Database load"). @default 1
     */
    pollerIntervalSeconds: z.number().int().min(1).max(60).default(1),
    /**
     * Seconds between two snapshot comparisons (a checksum scan of the whole table) of an
     * `eventual` entity captured without `updated_at`; `strong` ones are compared every
     * `pollerIntervalSeconds`, as their lag target needs. @default 10
     */
    pollerSnapshotIntervalSeconds: z.number().int().min(1).max(3600).default(10),
    /** Rows per poll. @default 500 */
    pollerBatchSize: z.number().int().min(1).max(10000).default(500),
    /** Overlap re-read by the poller to catch rows committed late in a second (seconds). @default 2 */
    pollerOverlapSeconds: z.number().int().min(0).max(3600).default(2),
    /** Sync function timeout (seconds). @default 30 */
    functionTimeoutSeconds: z.number().int().min(1).max(900).default(30),
    /**
     * Full validation (the rollout's phase 1 and the scheduled reconciliation): rows one worker
     * holds at most. 100,000 rows of `[key, key, hash]` stay well within the workers' 1,024 MB.
     * @default 100000
     */
    validationRowsPerWorker: z.number().int().min(2).max(10_000_000).default(100_000),
    /** Full validation: keys per checksum chunk (a differing chunk is diffed row by row). @default 1000 */
    validationChunkSize: z.number().int().min(1).max(1_000_000).default(1000),
    /**
     * Full validation: workers at once per Distributed Map (each holds one legacy connection
     * while it checksums its key range: this protects the legacy database). @default 10
     */
    validationConcurrency: z.number().int().min(1).max(1000).default(10),
    /**
     * How far a change's `changedAt` may be ahead of the receiving sync's clock (seconds). A
     * change dated further ahead is rejected with its reason (to the DLQ): accepted, it would
     * count as that side's newest change and make every later real edit of its fields look
     * stale. A record's own change time further ahead counts as unknown. @default 300
     */
    maxClockSkewSeconds: z.number().int().min(0).max(86_400).default(300),
  })
  .strict();
export type SyncSettings = z.infer<typeof SyncSettingsSchema>;

export const AlarmThresholdsSchema = z
  .object({
    /** Critical below this consistency ratio. @default 0.999 */
    consistencyCritical: Ratio.default(0.999),
    /** Warning above this p95 latency (ms). @default 300 */
    p95WarningMs: z.number().positive().default(300),
    /** Critical above this error rate. @default 0.005 */
    errorRateCritical: Ratio.default(0.005),
    /** Lag alarm for `strong` entities (seconds). @default 5 */
    strongLagSeconds: z.number().positive().default(5),
    /** Lag alarm for `eventual` entities (seconds). @default 300 */
    eventualLagSeconds: z.number().positive().default(300),
  })
  .strict();
export type AlarmThresholds = z.infer<typeof AlarmThresholdsSchema>;

export const GatewaySchema = z
  .object({
    /** Where the sticky-canary user key comes from, tried in order. */
    userKey: z
      .object({
        header: z.string().optional(),
        cookie: z.string().optional(),
        jwtClaim: z.string().optional(),
      })
      .strict()
      .default({ header: 'x-user-id' }),
    /** AppConfig poll interval (seconds); the extension's 45 s default breaks the 10 s rollback. */
    flagPollSeconds: z.number().int().min(1).max(5).default(5),
    upstreamTimeoutMs: z.number().int().positive().default(3000),
    /** Body paths ignored when comparing shadow reads. */
    shadowIgnore: z.array(z.string()).default(['updatedAt', 'updated_at', 'createdAt', 'created_at']),
    /** Share of eligible reads (write mode `shadow`) also sent to the service and compared. @default 1 */
    shadowSampleRate: Ratio.default(1),
    /** Upstream for paths no route matches. @default - the first service's legacyUrl */
    fallbackUrl: z.string().url().optional(),
    /**
     * Honour the `x-canary: true` request header (a read goes to the service at any percentage).
     * Any client can send it. @default - true in the `dev` stage, false in every other
     */
    canaryOverride: z.boolean().optional(),
    /**
     * The gateway's per-service circuit breaker (see lambdas/domain/circuit-breaker.ts).
     * @default - windowMs 10000, minRequests 20, errorRateThreshold 0.5, slowCallMs 2000,
     *   slowCallRateThreshold 0.8, openMs 5000, halfOpenProbes 1, halfOpenSuccesses 3
     */
    breaker: z
      .object({
        windowMs: z.number().int().min(1000).optional(),
        minRequests: z.number().int().min(1).optional(),
        errorRateThreshold: z.number().gt(0).max(1).optional(),
        slowCallMs: z.number().int().positive().optional(),
        slowCallRateThreshold: z.number().gt(0).max(1).optional(),
        openMs: z.number().int().positive().optional(),
        halfOpenProbes: z.number().int().min(1).optional(),
        halfOpenSuccesses: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type GatewaySpec = z.infer<typeof GatewaySchema>;

export const MigrationSchema = z
  .object({
    name: Name,
    description: z.string().min(1),
    legacy: z.discriminatedUnion('kind', [MysqlLegacySchema, HttpLegacySchema]),
    /** Services in rollout order (lowest risk first). */
    services: z.array(ServiceSchema).min(1, 'a migration needs at least one service'),
    sync: SyncSettingsSchema.default(SyncSettingsSchema.parse({})),
    alarms: AlarmThresholdsSchema.default(AlarmThresholdsSchema.parse({})),
    gateway: GatewaySchema.default(GatewaySchema.parse({})),
  })
  .strict()
  .superRefine((m, ctx) => {
    const services = new Set<string>();
    const entities = new Set<string>();
    const byName = new Map(m.services.flatMap((s) => s.entities.map((e) => [e.name, e] as const)));
    m.services.forEach((s, si) => {
      if (services.has(s.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', si, 'name'],
          message: `duplicate service "${s.name}"`,
        });
      }
      services.add(s.name);
      s.entities.forEach((e, ei) => {
        const at = ['services', si, 'entities', ei];
        if (entities.has(e.name)) {
          ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `duplicate entity "${e.name}"` });
        }
        entities.add(e.name);
        const isMysql = 'table' in e.legacy;
        if (m.legacy.kind === 'mysql' && !isMysql) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'legacy'],
            message: 'legacy kind is mysql: the entity needs { table, key }',
          });
        }
        if (m.legacy.kind === 'http' && isMysql) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'legacy'],
            message: 'legacy kind is http: the entity needs { path, key }',
          });
        }
        e.fields.forEach((f, fi) => {
          if (m.legacy.kind === 'mysql' && isMysql && !f.column && !f.eav) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, 'fields', fi, 'column'],
              message: `field "${f.name}" needs a column or an eav attribute`,
            });
          }
          if (f.eav && isMysql && !(e.legacy as { eavEntityType?: string }).eavEntityType) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, 'legacy', 'eavEntityType'],
              message: 'EAV fields need legacy.eavEntityType',
            });
          }
          if (f.references) {
            const path = [...at, 'fields', fi, 'references', 'entity'];
            const ref = byName.get(f.references.entity);
            if (!ref) {
              ctx.addIssue({
                code: 'custom',
                path,
                message: `field "${f.name}" references unknown entity "${f.references.entity}"`,
              });
            } else if (f.type !== (ref.target.keyType === 'number' ? 'integer' : 'string')) {
              ctx.addIssue({
                code: 'custom',
                path: [...at, 'fields', fi, 'type'],
                message: `field "${f.name}" holds ${ref.name} keys (keyType ${ref.target.keyType}): its type must be ${ref.target.keyType === 'number' ? 'integer' : 'string'}`,
              });
            }
            if ((f.policy ?? e.policy) === 'sum') {
              ctx.addIssue({
                code: 'custom',
                path: [...at, 'fields', fi, 'policy'],
                message: `field "${f.name}" holds a reference: it cannot be a sum counter`,
              });
            }
          }
        });
        const keyRef = isMysql ? (e.legacy as MysqlEntityLegacy).keyReferences : undefined;
        if (keyRef !== undefined) {
          const path = [...at, 'legacy', 'keyReferences'];
          const ref = byName.get(keyRef);
          if (!ref) {
            ctx.addIssue({ code: 'custom', path, message: `the key references unknown entity "${keyRef}"` });
          } else if (ref === e || (ref.legacy as MysqlEntityLegacy).keyReferences !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path,
              message: `the key must reference an entity with a key map of its own ("${keyRef}" has none)`,
            });
          } else if (ref.target.keyType !== e.target.keyType) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, 'target', 'keyType'],
              message: `the key is a ${ref.name} key: its keyType must be ${ref.target.keyType}`,
            });
          }
        }
      });
    });
    const consistencies = new Set(m.services.flatMap((s) => s.entities.map((e) => e.consistency)));
    if (consistencies.has('strong') && pollerLagBoundSeconds(m.sync) >= m.alarms.strongLagSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['sync', 'pollerIntervalSeconds'],
        message: `the poller sees a change up to ${pollerLagBoundSeconds(m.sync)} s after its commit (pollerOverlapSeconds + 1 s + pollerIntervalSeconds), not under alarms.strongLagSeconds (${m.alarms.strongLagSeconds} s) of the strong entities`,
      });
    }
    if (m.sync.pollerSnapshotIntervalSeconds < m.sync.pollerIntervalSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['sync', 'pollerSnapshotIntervalSeconds'],
        message: `must be at least pollerIntervalSeconds (${m.sync.pollerIntervalSeconds})`,
      });
    }
    if (
      consistencies.has('eventual') &&
      m.sync.pollerSnapshotIntervalSeconds >= m.alarms.eventualLagSeconds
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['sync', 'pollerSnapshotIntervalSeconds'],
        message: `must be under alarms.eventualLagSeconds (${m.alarms.eventualLagSeconds} s) of the eventual entities`,
      });
    }
  });

export type MigrationSpec = z.infer<typeof MigrationSchema>;
export type MigrationSpecInput = z.input<typeof MigrationSchema>;
export type LegacySpec = MigrationSpec['legacy'];
export type MysqlEntityLegacy = z.infer<typeof MysqlEntityLegacySchema>;
export type HttpEntityLegacy = z.infer<typeof HttpEntityLegacySchema>;

/**
 * Renders a zod path by the names a person wrote: an array element that has a `name` unique
 * among its siblings (a service, an entity, a field) is shown by that name
 * (`services.customer.entities.customer.fields.email.column`), any other by its index
 * (`rollout.canarySteps[2]`). `input` is the document the path points into; without it every
 * index is shown as `[i]`.
 */
export function formatPath(path: ReadonlyArray<PropertyKey>, input?: unknown): string {
  let out = '';
  let node: unknown = input;
  for (const p of path) {
    const parent = node;
    node =
      parent !== null && typeof parent === 'object' ? (parent as Record<PropertyKey, unknown>)[p] : undefined;
    if (typeof p === 'number') {
      const name = uniqueName(parent, p);
      out += name === undefined ? `[${p}]` : `${out ? '.' : ''}${name}`;
    } else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** The `name` of `list[index]` when it is a string no sibling shares. */
function uniqueName(list: unknown, index: number): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const name = (list[index] as { name?: unknown } | undefined)?.name;
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return undefined;
  return list.filter((e) => (e as { name?: unknown } | undefined)?.name === name).length === 1
    ? name
    : undefined;
}

/**
 * Validates a migration spec and fills in defaults.
 *
 * @example
 * export default defineMigration({ name: 'menu', description: '…', legacy: { kind: 'http', … }, services: [ … ] });
 * @throws SpecError naming every bad field's path
 */
export function defineMigration(input: MigrationSpecInput): MigrationSpec {
  const parsed = MigrationSchema.safeParse(input);
  if (!parsed.success) {
    const name =
      typeof (input as { name?: unknown })?.name === 'string' ? (input as { name: string }).name : '?';
    throw new SpecError(
      name,
      parsed.error.issues.map((i) => ({ path: formatPath(i.path, input), message: i.message })),
    );
  }
  return parsed.data;
}
