/**
 * Full validation at any table size: the consistency check of consistency.ts (counts, chunk
 * checksums, a row diff of the chunks that differ, repair), split into work items that Step
 * Functions Distributed Maps run in parallel, each holding at most `rowsPerWorker` rows whatever
 * the size of the tables. Used by the rollout's phase-1 `Validate` and by the scheduled
 * reconciliation (docs/sync.md, "Full validation at scale").
 *
 * Why this shape. The legacy side can checksum any key range in SQL, but the service side is a
 * DynamoDB table keyed by the service's own key: a key range of the legacy table is no range
 * there (service-born records carry string keys that only the key map translates), so a chunk
 * cannot be read without scanning the table. Rather than scanning once per chunk, or adding a
 * chunk attribute and a GSI to tables the service owns (and paying an index write on every
 * service write), the table is scanned once, in parallel segments, and each row is placed in its
 * legacy chunk there:
 *
 * 1. **Plan** ({@link planValidation}): the legacy key bounds (an index read, no rows) give the
 *    key-range *groups* — `chunksPerGroup` consecutive chunks, so a group spans fewer keys than
 *    a worker may hold; the expected row count gives the scan's workers (one per
 *    `rowsPerWorker` rows). Work lists go to the object store (a Distributed Map's ItemReader
 *    reads them: a state's payload is limited to 256 KiB).
 * 2. **Scan** ({@link scanPart}, one Distributed Map item per scan worker): a share of the
 *    table's parallel-scan segments, page by page; each row's legacy key (key map), chunk,
 *    group and row hash go into per-group buffers, written out as part objects
 *    `runs/<run>/<entity>/service/<group>/…` whenever the worker holds `rowsPerWorker` rows. A legacy
 *    store that cannot checksum key ranges (a REST API) is listed the same way, page by page,
 *    into `runs/<run>/<entity>/legacy/<group>/…`.
 * 3. **Compare** ({@link compareGroup}, one item per group): the group's service rows from its
 *    parts, the legacy side's chunk checksums of the same key range in SQL (or its parts), then
 *    per differing chunk the row diff and repair of consistency.ts (`settleRows`), chunk by
 *    chunk. The group's result goes to `runs/<run>/<entity>/results/<group>.json`.
 * 4. **Report** ({@link reportValidation}): the results summed into one report, written to
 *    `reports/<run>.json` (and `reports/latest.json`) and announced on the bus as
 *    `cutover.validation.completed`.
 *
 * Memory per worker: a scan worker flushes its buffers at `rowsPerWorker / 2` rows and reads
 * pages small enough that those in flight stay within the other half; a compare worker holds its
 * group's service rows (at most one per legacy key of the range: ≤ chunksPerGroup × chunkSize)
 * plus one chunk of legacy rows, which the layout keeps under `rowsPerWorker`. Keys that are
 * not unsigned integers sit in hash buckets (chunks.ts), grouped so that a group holds about
 * `rowsPerWorker / 2` rows of the expected count (both sides together in listing mode). The S3 objects written per run grow as
 * (scan workers × groups), i.e. with the square of rows / rowsPerWorker: docs/capacity.md says
 * where that stops paying.
 */
import { randomUUID } from 'node:crypto';
import { entityByName } from '../../lib/spec/lookup.js';
import type { EntitySpec } from '../../lib/spec/schema.js';
import {
  addRowHash,
  CHECKSUM_VERSION,
  ChecksumVersionError,
  EMPTY_CHECKSUM,
  hashRowText,
  type RowHash,
  recordHash,
} from './checksum.js';
import { chunkOfKey, HASH_BUCKETS, isHashBucket } from './chunks.js';
import {
  type ConsistencyDeps,
  comparableData,
  type FoundRow,
  type Mismatch,
  mapLimit,
  mappedLegacyKeys,
  settleRows,
} from './consistency.js';
import type { CapturedRow, LegacyValidationSource, ObjectStore, StoredRecord } from './ports.js';
import { type ConsistencyReport, validateReadOnlySync } from './rollout.js';
import { ValidationFailedError } from './rollout-tasks.js';

// --- layout: chunks and groups ---------------------------------------------------------------------

/** How a run cuts keys into chunks (checksum granularity) and chunks into groups (work items). */
export interface ValidationLayout {
  /** Keys per key-range chunk. */
  readonly chunkSize: number;
  /** Consecutive key-range chunks per group (`r<n>`). */
  readonly chunksPerGroup: number;
  /** Hash buckets per group (`h<n>`), for keys that are not unsigned integers. */
  readonly bucketsPerGroup: number;
  /** Rows a worker may hold at once. */
  readonly rowsPerWorker: number;
}

/** Where a run's legacy side comes from: chunk checksums in SQL, or a listing into parts. */
export type LegacyMode = 'sql' | 'listing';

/**
 * The layout for `rowsPerWorker` and an expected `rows` per side. A compare worker holds a
 * group's service rows plus one chunk of legacy rows (SQL), or both sides' rows of the group
 * (listing): the group is sized so that stays within `rowsPerWorker`.
 */
export function validationLayout(options: {
  readonly rowsPerWorker: number;
  readonly chunkSize: number;
  readonly rows: number;
  readonly mode: LegacyMode;
}): ValidationLayout {
  const budget = Math.floor(options.rowsPerWorker);
  if (!Number.isSafeInteger(budget) || budget < 2)
    throw new RangeError(`rowsPerWorker ${options.rowsPerWorker} must be an integer of at least 2`);
  const chunkSize = Math.max(1, Math.min(Math.floor(options.chunkSize), Math.floor(budget / 2)));
  const chunksPerGroup =
    options.mode === 'sql'
      ? Math.max(1, Math.floor(budget / chunkSize) - 1)
      : Math.max(1, Math.floor(budget / (2 * chunkSize)));
  // Hash buckets fill by chance, not by range: a group is sized to hold half the budget in
  // expectation (one side's rows in SQL mode, both sides' in listing mode), so that a group the
  // hash filled fuller than average still fits. Sized to the whole budget, groups of a listing run
  // held up to a quarter more rows than allowed (test/integration/full-validation-listing.test.ts).
  const sides = options.mode === 'listing' ? 2 : 1;
  const bucketsPerGroup = Math.min(
    HASH_BUCKETS,
    Math.max(1, Math.floor((HASH_BUCKETS * budget) / (2 * sides * Math.max(1, options.rows)))),
  );
  return { chunkSize, chunksPerGroup, bucketsPerGroup, rowsPerWorker: budget };
}

/** The group of a chunk: `r<n>` for key ranges, `h<n>` for hash buckets. */
export function groupOfChunk(chunk: number, layout: ValidationLayout): string {
  if (isHashBucket(chunk)) return `h${Math.floor((-1 - chunk) / layout.bucketsPerGroup)}`;
  return `r${Math.floor(chunk / layout.chunksPerGroup)}`;
}

/** The key-range chunks `[from, to)` of a range group; undefined for a hash-bucket group. */
export function rangeOfGroup(
  group: string,
  layout: ValidationLayout,
): { from: number; to: number } | undefined {
  const m = /^r(\d+)$/.exec(group);
  if (!m) return undefined;
  const n = Number(m[1]);
  return { from: n * layout.chunksPerGroup, to: (n + 1) * layout.chunksPerGroup };
}

// --- object keys -------------------------------------------------------------------------------------

/** Everything of one run lives under this prefix. */
export function runPrefix(run: string): string {
  return `runs/${run}/`;
}
const sidePrefix = (run: string, entity: string, side: 'service' | 'legacy') =>
  `${runPrefix(run)}${entity}/${side}/`;
/** Where a compare worker leaves its group's result. */
export const resultKey = (run: string, entity: string, group: string) =>
  `${runPrefix(run)}${entity}/results/${group}.json`;
/** Where the report of a run is written (and `latest.json` beside it). */
export function reportKey(run: string): string {
  return `reports/${run.replace(/\//g, '-')}.json`;
}
export const LATEST_REPORT_KEY = 'reports/latest.json';

// --- ports and items ------------------------------------------------------------------------------------

export interface ValidationDeps extends ConsistencyDeps {
  readonly store: ObjectStore;
  /** How the legacy side is read: key-range checksums in SQL, or its listing (the composition root's choice). */
  readonly legacySource: LegacyValidationSource;
}

export interface PlanInput {
  /** Unique per run (e.g. `<state machine>/<execution name>`): the objects' prefix. */
  readonly run: string;
  readonly entities: readonly string[];
  /** Rows a worker may hold at once. */
  readonly rowsPerWorker: number;
  /** Keys per chunk (checksum granularity). */
  readonly chunkSize: number;
  /** Parallel-scan segments each scan worker reads at once. @default 4 */
  readonly segmentsPerWorker?: number;
}

interface EntityPlan {
  readonly entity: string;
  readonly mode: LegacyMode;
  readonly layout: ValidationLayout;
  readonly legacyRows: number;
  /** Range groups `r<from>` … `r<to - 1>` hold the legacy keys (SQL mode). */
  readonly rangeGroups?: { readonly from: number; readonly to: number };
  readonly scanWorkers: number;
}

/** One item of the scan map: a share of the service table, or the legacy listing. */
export interface ScanItem {
  readonly run: string;
  readonly entity: string;
  readonly side: 'service' | 'legacy';
  /** Service side: this worker's share of the scan. */
  readonly part?: { readonly index: number; readonly of: number };
  readonly segments?: number;
  readonly layout: ValidationLayout;
}

/** One item of the compare map: one group of one entity. */
export interface CompareItem {
  readonly run: string;
  readonly entity: string;
  readonly group: string;
  readonly mode: LegacyMode;
  readonly layout: ValidationLayout;
  readonly repair: boolean;
  /** Mismatching keys listed per item (the rest are counted). */
  readonly maxReported: number;
}

/** What every worker reports: its rows and the most it held at once (the budget check). */
export interface WorkerStats {
  readonly rows: number;
  readonly maxRowsHeld: number;
  readonly ms: number;
}

/** The Distributed Map's work list: written to the store, read by its ItemReader. */
export interface WorkList {
  readonly bucketKey: string;
  readonly items: number;
}

// --- 1. plan ---------------------------------------------------------------------------------------------

/**
 * Plans a run: per entity, the legacy side's mode and layout and the scan's workers; writes the
 * scan map's work list. @throws when the legacy store can neither bound its keys nor list
 */
export async function planValidation(
  deps: ValidationDeps,
  input: PlanInput,
): Promise<{ run: string; scan: WorkList; entities: EntityPlan[] }> {
  const entities: EntityPlan[] = [];
  const items: ScanItem[] = [];
  for (const name of input.entities) {
    const { entity } = entityByName(deps.spec, name);
    const plan = await planEntity(deps, entity, input);
    entities.push(plan);
    for (let index = 0; index < plan.scanWorkers; index++) {
      items.push({
        run: input.run,
        entity: name,
        side: 'service',
        part: { index, of: plan.scanWorkers },
        segments: input.segmentsPerWorker ?? 4,
        layout: plan.layout,
      });
    }
    if (plan.mode === 'listing')
      items.push({ run: input.run, entity: name, side: 'legacy', layout: plan.layout });
  }
  await deps.store.put(`${runPrefix(input.run)}plan.json`, JSON.stringify({ run: input.run, entities }));
  const key = `${runPrefix(input.run)}scan-items.json`;
  await deps.store.put(key, JSON.stringify(items));
  return { run: input.run, scan: { bucketKey: key, items: items.length }, entities };
}

async function planEntity(deps: ValidationDeps, entity: EntitySpec, input: PlanInput): Promise<EntityPlan> {
  const budget = input.rowsPerWorker;
  const source = deps.legacySource;
  if (source.mode === 'sql') {
    const b = await source.bounds.keyBounds(entity);
    const layout = validationLayout({ ...input, rows: b.count, mode: 'sql' });
    const span = layout.chunksPerGroup * layout.chunkSize;
    const rangeGroups =
      b.min === undefined || b.max === undefined
        ? { from: 0, to: 0 }
        : { from: Math.floor(b.min / span), to: Math.floor(b.max / span) + 1 };
    return {
      entity: entity.name,
      mode: 'sql',
      layout,
      legacyRows: b.count,
      rangeGroups,
      scanWorkers: Math.max(1, Math.ceil(b.count / budget)),
    };
  }
  const rows = await deps.legacy.count(entity);
  return {
    entity: entity.name,
    mode: 'listing',
    layout: validationLayout({ ...input, rows, mode: 'listing' }),
    legacyRows: rows,
    scanWorkers: Math.max(1, Math.ceil(rows / budget)),
  };
}

// --- 2. scan ---------------------------------------------------------------------------------------------

/**
 * Buffers `[legacyKey, serviceKey, hash]` lines per group and writes them out as part objects
 * whenever `flushAt` rows are held. Part names carry the attempt, and the attempt that
 * completes leaves a done marker: a retried worker's earlier, partial attempt is ignored.
 */
/** Part objects a scan worker writes at once (see PartWriter.flush). */
export const PART_WRITES_IN_FLIGHT = 4;

class PartWriter {
  private readonly groups = new Map<string, string[]>();
  private held = 0;
  private seq = 0;
  rows = 0;
  maxHeld = 0;
  private readonly attempt = randomUUID();

  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly worker: string,
    private readonly flushAt: number,
  ) {}

  async add(group: string, legacyKey: string, serviceKey: string, hash: RowHash): Promise<void> {
    let lines = this.groups.get(group);
    if (!lines) {
      lines = [];
      this.groups.set(group, lines);
    }
    lines.push(JSON.stringify([legacyKey, serviceKey === legacyKey ? '' : serviceKey, hash]));
    this.held++;
    this.rows++;
    this.maxHeld = Math.max(this.maxHeld, this.held);
    if (this.held >= this.flushAt) await this.flush();
  }

  /** Notes rows held outside the buffers (a page being placed). */
  peak(extra: number): void {
    this.maxHeld = Math.max(this.maxHeld, this.held + extra);
  }

  async flush(): Promise<void> {
    const seq = this.seq++;
    // At most PART_WRITES_IN_FLIGHT parts at once, each group's lines let go once written. A scan
    // worker's rows spread over every group of the table (scan order is hash order), so writing
    // all groups at once held every group's joined text and request together: a worker's memory
    // grew with the table (1 M customers, 112 groups: peak heap 54 MB above idle, against 24 MB
    // at 10 k with the same 10,000 rows per item; BENCHMARKS.md, validation).
    const groups = [...this.groups];
    this.groups.clear();
    await mapLimit(groups, PART_WRITES_IN_FLIGHT, async ([group, lines]) => {
      const body = lines.join('\n');
      lines.length = 0;
      await this.store.put(`${this.prefix}${group}/${this.worker}.${this.attempt}.${seq}.jsonl`, body);
    });
    this.held = 0;
  }

  /** Flushes and marks this attempt as the worker's complete one. */
  async done(): Promise<void> {
    await this.flush();
    await this.store.put(`${this.prefix}_done/${this.worker}.${this.attempt}`, String(this.rows));
  }
}

/**
 * One scan worker: its share of the service table (or, `side: 'legacy'`, the legacy listing),
 * each row placed in its group with its row hash, written out in parts.
 */
export async function scanPart(deps: ValidationDeps, item: ScanItem): Promise<WorkerStats> {
  const started = deps.now();
  const { entity } = entityByName(deps.spec, item.entity);
  const budget = item.layout.rowsPerWorker;
  const worker = item.side === 'service' ? `s${item.part?.index ?? 0}` : 'legacy';
  // Half the budget for the buffers, half for the pages read ahead: the scan keeps at most
  // 3 × segments pages (in flight and ready), each of `pageSize` items; a listing one page.
  const out = new PartWriter(
    deps.store,
    sidePrefix(item.run, item.entity, item.side),
    worker,
    Math.max(1, Math.floor(budget / 2)),
  );
  const place = (legacyKey: string) =>
    groupOfChunk(chunkOfKey(legacyKey, item.layout.chunkSize), item.layout);
  if (item.side === 'service') {
    const segments = item.segments ?? 4;
    const pages = deps.service.scan(entity, {
      segments,
      pageSize: Math.max(1, Math.floor(budget / (6 * segments))),
      ...(item.part ? { part: item.part } : {}),
    });
    for await (const page of pages) {
      out.peak(page.length);
      const keyMap = await mappedLegacyKeys(
        deps,
        entity,
        page.map((r) => r.key),
      );
      for (const r of page) {
        const legacyKey = keyMap.get(r.key) ?? r.key;
        await out.add(place(legacyKey), legacyKey, r.key, hashRowText(legacyKey + r.text));
      }
    }
  } else {
    const source = deps.legacySource;
    if (source.mode !== 'listing')
      throw new Error(`${entity.name}: a legacy scan item, but the legacy side is read in SQL (no listing)`);
    const limit = Math.max(1, Math.min(1000, Math.floor(budget / 2)));
    let after: string | undefined;
    for (;;) {
      const page = await source.listing.listPage(entity, {
        ...(after !== undefined ? { after } : {}),
        limit,
      });
      out.peak(page.rows.length);
      for (const r of page.rows) await out.add(place(r.key), r.key, r.key, recordHash(entity, r.key, r.data));
      if (page.last === undefined || page.rows.length === 0) break;
      after = page.last;
    }
  }
  await out.done();
  return { rows: out.rows, maxRowsHeld: out.maxHeld, ms: deps.now() - started };
}

// --- 2½. the compare map's work list ----------------------------------------------------------------------

/** After the scan: every group either side has rows in, per entity, as the compare map's work list. */
export async function planComparison(
  deps: Pick<ValidationDeps, 'store'>,
  input: { readonly run: string; readonly repair?: boolean; readonly maxReported?: number },
): Promise<{ run: string; compare: WorkList }> {
  const plan = JSON.parse(await deps.store.get(`${runPrefix(input.run)}plan.json`)) as {
    entities: EntityPlan[];
  };
  const items: CompareItem[] = [];
  for (const e of plan.entities) {
    const groups = new Set<string>();
    if (e.rangeGroups) for (let g = e.rangeGroups.from; g < e.rangeGroups.to; g++) groups.add(`r${g}`);
    const sides: Array<'service' | 'legacy'> = e.mode === 'listing' ? ['service', 'legacy'] : ['service'];
    for (const side of sides) {
      const prefix = sidePrefix(input.run, e.entity, side);
      for (const folder of await deps.store.listFolders(prefix)) {
        const group = folder.slice(prefix.length, -1);
        if (group !== '_done') groups.add(group);
      }
    }
    for (const group of [...groups].sort(byGroup)) {
      items.push({
        run: input.run,
        entity: e.entity,
        group,
        mode: e.mode,
        layout: e.layout,
        repair: input.repair ?? false,
        maxReported: input.maxReported ?? 1000,
      });
    }
  }
  const key = `${runPrefix(input.run)}compare-items.json`;
  await deps.store.put(key, JSON.stringify(items));
  return { run: input.run, compare: { bucketKey: key, items: items.length } };
}

function byGroup(a: string, b: string): number {
  return a[0] === b[0] ? Number(a.slice(1)) - Number(b.slice(1)) : a < b ? -1 : 1;
}

// --- 3. compare ---------------------------------------------------------------------------------------------

interface PartRow {
  readonly serviceKey: string;
  readonly hash: RowHash;
  readonly chunk: number;
}

/** The rows of a group's parts written by completed attempts, by legacy key. */
async function readParts(
  store: ObjectStore,
  prefix: string,
  group: string,
  layout: ValidationLayout,
): Promise<Map<string, PartRow>> {
  const done = new Set((await store.list(`${prefix}_done/`)).map((k) => k.slice(`${prefix}_done/`.length)));
  const rows = new Map<string, PartRow>();
  for (const key of await store.list(`${prefix}${group}/`)) {
    const name = key.slice(`${prefix}${group}/`.length);
    const attempt = name.split('.').slice(0, 2).join('.');
    if (!done.has(attempt)) continue; // an attempt that did not complete (the retry rewrote it)
    const body = await store.get(key);
    for (const line of body.split('\n')) {
      if (!line) continue;
      const [legacyKey, serviceKey, hash] = JSON.parse(line) as [string, string, unknown];
      // Version 1 wrote CRC32s as text: a run scanned before the upgrade is not compared after it.
      if (typeof hash !== 'number')
        throw new ChecksumVersionError(
          `${key}: row hashes of an earlier checksum version (this is version ${CHECKSUM_VERSION}); start a new run`,
        );
      rows.set(legacyKey, {
        serviceKey: serviceKey || legacyKey,
        hash,
        chunk: chunkOfKey(legacyKey, layout.chunkSize),
      });
    }
  }
  return rows;
}

/** What one compare worker found: written to the store, summed by the report. */
export interface GroupResult extends WorkerStats {
  readonly entity: string;
  readonly group: string;
  readonly legacyCount: number;
  readonly serviceCount: number;
  readonly chunks: number;
  readonly chunksDiffering: readonly number[];
  readonly mismatches: readonly Mismatch[];
  readonly mismatchesTotal: number;
  readonly repaired: number;
}

/** The compare map's output per item (small: the map's results are kept by Step Functions). */
export type CompareSummary = Pick<
  GroupResult,
  'entity' | 'group' | 'rows' | 'maxRowsHeld' | 'ms' | 'mismatchesTotal' | 'repaired'
>;

/**
 * One group: the legacy side's chunk checksums of its key range (SQL) or its listed rows, the
 * service rows from the scan's parts; each chunk whose count or checksum differs is diffed row
 * by row and settled (consistency.ts: service records read again by key, repair) on its own.
 */
export async function compareGroup(deps: ValidationDeps, item: CompareItem): Promise<CompareSummary> {
  const now = deps.now;
  const started = now();
  const { entity } = entityByName(deps.spec, item.entity);
  const { layout } = item;
  const service = await readParts(
    deps.store,
    sidePrefix(item.run, item.entity, 'service'),
    item.group,
    layout,
  );
  let maxHeld = service.size;

  const sumsOf = (rows: Iterable<PartRow>) => {
    const sums = new Map<number, { count: number; checksum: number }>();
    for (const r of rows) {
      const c = sums.get(r.chunk) ?? { count: 0, checksum: EMPTY_CHECKSUM };
      c.count++;
      c.checksum = addRowHash(c.checksum, r.hash);
      sums.set(r.chunk, c);
    }
    return sums;
  };
  const serviceChunks = sumsOf(service.values());

  const legacyChunks = new Map<number, { count: number; checksum: number }>();
  let listed: Map<string, PartRow> | undefined;
  if (item.mode === 'sql') {
    const range = rangeOfGroup(item.group, layout);
    if (range) {
      for (const c of await deps.legacy.chunkChecksums(entity, {
        chunkSize: layout.chunkSize,
        chunks: range,
      }))
        legacyChunks.set(c.chunk, { count: c.count, checksum: c.checksum });
    }
  } else {
    listed = await readParts(deps.store, sidePrefix(item.run, item.entity, 'legacy'), item.group, layout);
    maxHeld += listed.size;
    for (const [chunk, c] of sumsOf(listed.values())) legacyChunks.set(chunk, c);
  }

  const chunks = [...new Set([...legacyChunks.keys(), ...serviceChunks.keys()])].sort((a, b) => a - b);
  const differing = chunks.filter((c) => {
    const l = legacyChunks.get(c);
    const s = serviceChunks.get(c);
    return !l || !s || l.count !== s.count || l.checksum !== s.checksum;
  });

  const mismatches: Mismatch[] = [];
  let mismatchesTotal = 0;
  let repaired = 0;
  for (const chunk of differing) {
    const svc = [...service].filter(([, r]) => r.chunk === chunk);
    const found: FoundRow[] = [];
    const seen = new Set<string>();
    // Rows compared as the service holds them (references translated), repaired as they are.
    const compared = new Map<StoredRecord, StoredRecord['data']>();
    if (listed) {
      // The listing gave hashes only: the legacy records that differ are read by key.
      const differ: string[] = [];
      for (const [key, l] of listed) {
        if (l.chunk !== chunk) continue;
        seen.add(key);
        if (service.get(key)?.hash !== l.hash) differ.push(key);
      }
      for (const key of differ) {
        const record = await deps.legacy.read(entity, key);
        compared.set(record, await comparableData(deps, entity, record));
        pushFound(found, record, service.get(key));
      }
    } else {
      const rows: CapturedRow[] = await deps.legacy.readChunk(entity, chunk, { chunkSize: layout.chunkSize });
      maxHeld = Math.max(maxHeld, service.size + rows.length);
      for (const l of rows) {
        seen.add(l.key);
        const s = service.get(l.key);
        const data = await comparableData(deps, entity, l);
        compared.set(l, data);
        if (!s || recordHash(entity, l.key, data) !== s.hash) pushFound(found, l, s);
      }
    }
    for (const [legacyKey, r] of svc) {
      if (!seen.has(legacyKey))
        found.push({ kind: 'missing-in-legacy', legacyKey, serviceKey: r.serviceKey });
    }
    const settled = await settleRows(deps, entity, found, {
      repair: item.repair,
      dataOf: (r) => compared.get(r) ?? r.data,
    });
    mismatchesTotal += settled.mismatches.length;
    repaired += settled.repaired;
    for (const m of settled.mismatches) if (mismatches.length < item.maxReported) mismatches.push(m);
  }

  const result: GroupResult = {
    entity: item.entity,
    group: item.group,
    legacyCount: [...legacyChunks.values()].reduce((n, c) => n + c.count, 0),
    serviceCount: service.size,
    chunks: chunks.length,
    chunksDiffering: differing,
    mismatches,
    mismatchesTotal,
    repaired,
    rows: service.size + [...legacyChunks.values()].reduce((n, c) => n + c.count, 0),
    maxRowsHeld: maxHeld,
    ms: now() - started,
  };
  await deps.store.put(resultKey(item.run, item.entity, item.group), JSON.stringify(result));
  const { entity: e, group, rows, maxRowsHeld, ms } = result;
  return { entity: e, group, rows, maxRowsHeld, ms, mismatchesTotal, repaired };
}

/** A legacy row that differs from (or is missing on) the service side. */
function pushFound(found: FoundRow[], legacy: StoredRecord, service: PartRow | undefined): void {
  if (!legacy.exists) return; // deleted since it was listed: the next run sees it as it is then
  if (!service) found.push({ kind: 'missing-in-service', legacy });
  else found.push({ kind: 'different', legacy, serviceKey: service.serviceKey });
}

// --- 4. report ------------------------------------------------------------------------------------------------

/** One entity's totals in a validation report. */
export interface EntityReport extends ConsistencyReport {
  readonly chunks: number;
  readonly chunksDiffering: number;
  /** Differing chunk indexes, the first `maxReported`. */
  readonly differingChunks: readonly number[];
  /** Mismatching records, the first `maxReported` (keys and field names, never values). */
  readonly mismatchRecords: readonly Mismatch[];
  readonly repaired: number;
  /** Compare items (groups) and the most rows any worker of the run held at once. */
  readonly items: number;
  readonly maxRowsHeld: number;
}

export interface ValidationReport {
  readonly run: string;
  readonly startedAt: string;
  readonly completedAt: string;
  /** Rows compared per second over the run (both sides). */
  readonly rowsPerSecond: number;
  readonly consistent: boolean;
  readonly entities: readonly EntityReport[];
  /** Where the report is (`s3://bucket/key`). */
  readonly location: string;
}

/** The event a completed run publishes on the bus. */
export const VALIDATION_EVENT = {
  source: 'cutover.validation',
  detailType: 'cutover.validation.completed',
} as const;

/**
 * Sums the compare results of a run into one report, writes it (and `latest.json`), and
 * publishes `cutover.validation.completed` with the report's location and totals.
 */
export async function reportValidation(
  deps: Pick<ValidationDeps, 'store' | 'publisher' | 'now'>,
  input: {
    readonly run: string;
    readonly entities: readonly string[];
    readonly startedAt: string;
    readonly maxReported?: number;
    /** The scan workers' most rows held (the scan map's results). */
    readonly scanMaxRowsHeld?: number;
  },
): Promise<ValidationReport> {
  const now = deps.now;
  const maxReported = input.maxReported ?? 1000;
  const entities: EntityReport[] = [];
  let rows = 0;
  for (const entity of input.entities) {
    const prefix = `${runPrefix(input.run)}${entity}/results/`;
    const t = {
      legacy: 0,
      service: 0,
      chunks: 0,
      differing: 0,
      total: 0,
      repaired: 0,
      items: 0,
      held: input.scanMaxRowsHeld ?? 0,
    };
    const differingChunks: number[] = [];
    const mismatchRecords: Mismatch[] = [];
    for (const key of await deps.store.list(prefix)) {
      const r = JSON.parse(await deps.store.get(key)) as GroupResult;
      t.items++;
      t.legacy += r.legacyCount;
      t.service += r.serviceCount;
      t.chunks += r.chunks;
      t.differing += r.chunksDiffering.length;
      t.total += r.mismatchesTotal;
      t.repaired += r.repaired;
      t.held = Math.max(t.held, r.maxRowsHeld);
      rows += r.rows;
      for (const c of r.chunksDiffering) if (differingChunks.length < maxReported) differingChunks.push(c);
      for (const m of r.mismatches) if (mismatchRecords.length < maxReported) mismatchRecords.push(m);
    }
    const records = Math.max(t.legacy, t.service);
    entities.push({
      entity,
      legacyCount: t.legacy,
      serviceCount: t.service,
      mismatches: mismatchRecords.map((m) => m.legacyKey),
      mismatchesTotal: t.total,
      consistency: records === 0 ? 1 : Math.max(0, (records - t.total) / records),
      chunks: t.chunks,
      chunksDiffering: t.differing,
      differingChunks: differingChunks.sort((a, b) => a - b),
      mismatchRecords,
      repaired: t.repaired,
      items: t.items,
      maxRowsHeld: t.held,
    });
  }
  const completed = now();
  const seconds = Math.max(0.001, (completed - Date.parse(input.startedAt)) / 1000);
  const key = reportKey(input.run);
  const report: ValidationReport = {
    run: input.run,
    startedAt: input.startedAt,
    completedAt: new Date(completed).toISOString(),
    rowsPerSecond: Math.round(rows / seconds),
    consistent: entities.every((e) => e.mismatchesTotal === 0 && e.legacyCount === e.serviceCount),
    entities,
    location: deps.store.location(key),
  };
  const body = JSON.stringify(report, null, 2);
  await deps.store.put(key, body);
  await deps.store.put(LATEST_REPORT_KEY, body);
  await deps.publisher.publish([
    {
      Source: VALIDATION_EVENT.source,
      DetailType: VALIDATION_EVENT.detailType,
      Detail: JSON.stringify({
        run: report.run,
        location: report.location,
        consistent: report.consistent,
        rowsPerSecond: report.rowsPerSecond,
        entities: entities.map((e) => ({
          entity: e.entity,
          legacyCount: e.legacyCount,
          serviceCount: e.serviceCount,
          mismatchesTotal: e.mismatchesTotal,
          chunksDiffering: e.chunksDiffering,
          repaired: e.repaired,
        })),
      }),
    },
  ]);
  return report;
}

// --- the port the state machines' tasks call ---------------------------------------------------------------

/** What the validation tasks of a state machine do (the sync engine's, or a test's model). */
export interface ValidationPort {
  plan(input: PlanInput): Promise<{ run: string; scan: WorkList }>;
  scan(item: ScanItem): Promise<WorkerStats>;
  planComparison(input: {
    readonly run: string;
    readonly repair?: boolean;
    readonly maxReported?: number;
  }): Promise<{ run: string; compare: WorkList }>;
  compare(item: CompareItem): Promise<CompareSummary>;
  report(input: Parameters<typeof reportValidation>[1]): Promise<ValidationReport>;
}

/** {@link ValidationPort} on the sync engine's stores and an object store. */
export class SyncEngineValidation implements ValidationPort {
  constructor(private readonly deps: ValidationDeps) {}
  async plan(input: PlanInput) {
    const { run, scan } = await planValidation(this.deps, input);
    return { run, scan };
  }
  scan(item: ScanItem) {
    return scanPart(this.deps, item);
  }
  planComparison(input: { readonly run: string; readonly repair?: boolean; readonly maxReported?: number }) {
    return planComparison(this.deps, input);
  }
  compare(item: CompareItem) {
    return compareGroup(this.deps, item);
  }
  report(input: Parameters<typeof reportValidation>[1]) {
    return reportValidation(this.deps, input);
  }
}

/** The report step's answer to the state machine: totals only (the report itself is in S3). */
export interface ValidationOutcome {
  readonly run: string;
  readonly location: string;
  readonly consistent: boolean;
  readonly rowsPerSecond: number;
  readonly entities: ReadonlyArray<
    Omit<EntityReport, 'mismatches' | 'mismatchRecords' | 'differingChunks'> & { mismatches: number }
  >;
}

/**
 * The last step of a run: the report (written and announced whatever it says), then, with
 * `failOnMismatch`, the phase-1 rule (rollout.ts `validateReadOnlySync`: equal counts, zero
 * mismatches) as an error naming the entities and keys.
 */
export async function completeValidation(
  port: Pick<ValidationPort, 'report'>,
  input: Parameters<typeof reportValidation>[1] & { readonly failOnMismatch?: boolean },
): Promise<ValidationOutcome> {
  const report = await port.report(input);
  if (input.failOnMismatch) {
    const verdict = validateReadOnlySync(report.entities);
    if (!verdict.ok) throw new ValidationFailedError(`${verdict.cause} (report: ${report.location})`);
  }
  return {
    run: report.run,
    location: report.location,
    consistent: report.consistent,
    rowsPerSecond: report.rowsPerSecond,
    entities: report.entities.map(({ mismatches: _m, mismatchRecords: _r, differingChunks: _d, ...e }) => ({
      ...e,
      mismatches: e.mismatchesTotal ?? 0,
    })),
  };
}

/** The `Plan` / `PlanCompare` task's input (one Lambda, two steps). */
export type ValidationPlanTask =
  | (PlanInput & { readonly step: 'plan'; readonly startedAt: string })
  | {
      readonly step: 'compare';
      readonly run: string;
      readonly repair?: boolean;
      readonly maxReported?: number;
    };

/** The `Plan` / `PlanCompare` task: the scan map's work list (with the run's start), or the compare map's. */
export async function validationPlanTask(port: ValidationPort, task: ValidationPlanTask) {
  if (task.step === 'compare') return port.planComparison(task);
  return { ...(await port.plan(task)), startedAt: task.startedAt };
}

/** The `Report` task: the scan map's results give the scan workers' most rows held. */
export async function validationReportTask(
  port: Pick<ValidationPort, 'report'>,
  input: Parameters<typeof completeValidation>[1] & {
    readonly scanStats?: ReadonlyArray<{ maxRowsHeld: number }>;
  },
): Promise<ValidationOutcome> {
  const { scanStats, ...rest } = input;
  return completeValidation(port, {
    ...rest,
    scanMaxRowsHeld: Math.max(0, ...(scanStats ?? []).map((s) => s.maxRowsHeld)),
  });
}
