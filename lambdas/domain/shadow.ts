/**
 * Shadow comparison: while a service's writes are in `shadow` mode, the gateway answers reads
 * from legacy and sends the same read to the service off the critical path; this module compares
 * the two answers.
 *
 * Bodies that both parse as JSON are compared structurally (key order never matters, arrays by
 * position); anything else is compared byte for byte. Fields that legitimately differ between the
 * two systems (timestamps, generated ids) are ignored by pattern:
 *
 * - a plain name (`updatedAt`) ignores that key at any depth;
 * - a dotted path (`items.*.sku`, `meta.requestId`) ignores one place, from the root; `*` matches
 *   any single key or array index.
 *
 * The result lists mismatch paths (`items[2].price`, `$status`), never values: the paths are
 * safe to log, the values may be personal data.
 */

export interface ShadowAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body: Uint8Array | string;
}

export type MismatchKind = 'status' | 'changed' | 'type' | 'missing-in-service' | 'extra-in-service' | 'body';

export interface Mismatch {
  /** `$status`, `$body` (non-JSON bodies), or the JSON path like `customer.addresses[0].city`. */
  readonly path: string;
  readonly kind: MismatchKind;
}

export interface ShadowComparison {
  readonly equal: boolean;
  /** At most `maxMismatches` entries; `truncated` says there were more. */
  readonly mismatches: readonly Mismatch[];
  readonly truncated: boolean;
}

export interface ShadowCompareOptions {
  /** Keys or dotted paths to ignore (see the module doc). */
  readonly ignore?: readonly string[];
  /** @default 50 */
  readonly maxMismatches?: number;
}

/** A compiled ignore list: build once with {@link compileIgnores}, reuse for every comparison. */
export interface IgnoreMatcher {
  readonly keys: ReadonlySet<string>;
  readonly paths: readonly (readonly string[])[];
}

export function compileIgnores(ignore: readonly string[] = []): IgnoreMatcher {
  const keys = new Set<string>();
  const paths: string[][] = [];
  for (const raw of ignore) {
    const p = raw.trim();
    if (!p) continue;
    if (p.includes('.'))
      paths.push(
        p
          .replace(/\[(\d+|\*)\]/g, '.$1')
          .split('.')
          .filter(Boolean),
      );
    else keys.add(p);
  }
  return { keys, paths };
}

function ignored(m: IgnoreMatcher, segments: readonly string[]): boolean {
  const last = segments[segments.length - 1];
  if (last !== undefined && m.keys.has(last)) return true;
  outer: for (const p of m.paths) {
    if (p.length !== segments.length) continue;
    for (let i = 0; i < p.length; i++) {
      if (p[i] !== '*' && p[i] !== segments[i]) continue outer;
    }
    return true;
  }
  return false;
}

/** Compares a legacy answer with the service's answer to the same read. */
export function compareAnswers(
  legacy: ShadowAnswer,
  service: ShadowAnswer,
  ignores: IgnoreMatcher = compileIgnores(),
  maxMismatches = 50,
): ShadowComparison {
  return collect(maxMismatches, (push) => {
    if (legacy.status !== service.status) push('$status', 'status');
    const a = parseJson(legacy);
    const b = parseJson(service);
    if (a.ok && b.ok) compareValues(a.value, b.value, [], ignores, push);
    else if (!bytesEqual(toBytes(legacy.body), toBytes(service.body))) push('$body', 'body');
  });
}

/** Compares two JSON values (for the sync's consistency checks as much as for shadow reads). */
export function compareJson(
  legacy: unknown,
  service: unknown,
  options: ShadowCompareOptions = {},
): ShadowComparison {
  const ignores = compileIgnores(options.ignore);
  return collect(options.maxMismatches ?? 50, (push) => compareValues(legacy, service, [], ignores, push));
}

function collect(max: number, run: (push: Push) => void): ShadowComparison {
  const mismatches: Mismatch[] = [];
  let truncated = false;
  run((path, kind) => {
    if (mismatches.length < max) mismatches.push({ path, kind });
    else truncated = true;
  });
  return { equal: mismatches.length === 0 && !truncated, mismatches, truncated };
}

type Push = (path: string, kind: MismatchKind) => void;

function compareValues(a: unknown, b: unknown, at: string[], m: IgnoreMatcher, push: Push): void {
  if (at.length > 0 && ignored(m, at)) return;
  if (a === b) return;
  const ta = kindOf(a);
  const tb = kindOf(b);
  if (ta !== tb) {
    push(render(at), 'type');
    return;
  }
  if (ta === 'array') {
    const xa = a as unknown[];
    const xb = b as unknown[];
    const n = Math.max(xa.length, xb.length);
    for (let i = 0; i < n; i++) {
      at.push(String(i));
      if (i >= xa.length) {
        if (!ignored(m, at)) push(render(at), 'extra-in-service');
      } else if (i >= xb.length) {
        if (!ignored(m, at)) push(render(at), 'missing-in-service');
      } else compareValues(xa[i], xb[i], at, m, push);
      at.pop();
    }
    return;
  }
  if (ta === 'object') {
    const oa = a as Record<string, unknown>;
    const ob = b as Record<string, unknown>;
    for (const k of Object.keys(oa)) {
      at.push(k);
      if (!Object.hasOwn(ob, k)) {
        if (!ignored(m, at)) push(render(at), 'missing-in-service');
      } else compareValues(oa[k], ob[k], at, m, push);
      at.pop();
    }
    for (const k of Object.keys(ob)) {
      if (Object.hasOwn(oa, k)) continue;
      at.push(k);
      if (!ignored(m, at)) push(render(at), 'extra-in-service');
      at.pop();
    }
    return;
  }
  // Same primitive kind, different value (NaN cannot come out of JSON).
  push(render(at), 'changed');
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `['items', '2', 'price']` -> `items[2].price`; the root is `$`. */
function render(at: readonly string[]): string {
  if (at.length === 0) return '$';
  let s = '';
  for (const seg of at) {
    if (/^\d+$/.test(seg)) s += `[${seg}]`;
    else s += s ? `.${seg}` : seg;
  }
  return s;
}

function parseJson(a: ShadowAnswer): { ok: true; value: unknown } | { ok: false } {
  const ct = a.contentType?.toLowerCase() ?? '';
  if (ct && !ct.includes('json')) return { ok: false };
  const text = typeof a.body === 'string' ? a.body : Buffer.from(a.body).toString('utf8');
  if (!text.trim()) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function toBytes(b: Uint8Array | string): Uint8Array {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/**
 * A mismatch path fit for the log: segments that look like an email address or a long number
 * (keys of maps indexed by customer) are masked. Array indexes are kept.
 */
export function maskPathForLog(path: string): string {
  return path
    .split('.')
    .map((seg) => {
      const m = /^([^[]*)(.*)$/.exec(seg)!;
      let name = m[1]!;
      if (name.includes('@')) name = '<email>';
      else if (/^\d{6,}$/.test(name)) name = '<id>';
      return name + m[2]!;
    })
    .join('.');
}
