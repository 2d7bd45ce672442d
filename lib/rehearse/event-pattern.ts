/**
 * EventBridge event patterns, matched offline: the documented grammar of rules on a bus and of
 * Pipe filters (exact values incl. `null` and `""`, `prefix`, `suffix` — both optionally
 * `equals-ignore-case` —, `equals-ignore-case`, `wildcard`, `anything-but` of values, lists,
 * `prefix`, `suffix`, `equals-ignore-case` and `wildcard`, `numeric` ranges, `exists`, `cidr`
 * (IPv4), `$or`, nested objects, arrays in the event matching when any element matches).
 *
 * No maintained npm package implements this grammar (the registry's offline matchers are
 * unmaintained single-maintainer copies), so the rehearsal carries its own, tested against
 * AWS's documented examples (test/contracts/eventbridge/).
 */

/** A pattern that EventBridge would reject when the rule is created. */
export class EventPatternError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`event pattern ${path || '(root)'}: ${message}`);
    this.name = 'EventPatternError';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether `event` matches `pattern` (both parsed JSON), as EventBridge's TestEventPattern
 * answers. Throws {@link EventPatternError} naming the field when the pattern is malformed.
 */
export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  if (!isObject(pattern)) throw new EventPatternError('', 'a pattern is a JSON object');
  return matchObject(pattern, event, '');
}

/** Checks a pattern's grammar without an event (what PutRule validates). */
export function validateEventPattern(pattern: unknown): void {
  matchesEventPattern(pattern, {});
}

function matchObject(pattern: JsonObject, value: unknown, path: string): boolean {
  let ok = true;
  // Every field is evaluated (not short-circuited), so a malformed part is reported even when an
  // earlier field already decided the answer.
  for (const [key, sub] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    let matched: boolean;
    if (key === '$or' && Array.isArray(sub)) {
      if (sub.length < 2 || !sub.every(isObject))
        throw new EventPatternError(at, '$or needs at least two pattern objects');
      matched = sub.map((alt) => matchObject(alt as JsonObject, value, path)).some(Boolean);
    } else {
      const field = fieldOf(value, key);
      if (Array.isArray(sub)) matched = matchLeaf(sub, field, at);
      else if (isObject(sub)) matched = matchNested(sub, field, at);
      else throw new EventPatternError(at, 'a field takes an array of matchers or a nested object');
    }
    ok = ok && matched;
  }
  return ok;
}

/** The field of an object, or of any object element of an array (events flatten arrays). */
function fieldOf(value: unknown, key: string): unknown {
  if (isObject(value)) return Object.hasOwn(value, key) ? value[key] : undefined;
  return undefined;
}

function matchNested(pattern: JsonObject, field: unknown, path: string): boolean {
  if (Array.isArray(field)) {
    const objects = field.filter(isObject);
    if (objects.length === 0) return matchObject(pattern, undefined, path);
    return objects.map((o) => matchObject(pattern, o, path)).some(Boolean);
  }
  return matchObject(pattern, isObject(field) ? field : undefined, path);
}

function matchLeaf(matchers: Json[], field: unknown, path: string): boolean {
  if (matchers.length === 0) throw new EventPatternError(path, 'an empty array matches nothing');
  const present = field !== undefined && !isObject(field);
  // A leaf present in the event as an array matches when any element matches.
  const values: unknown[] = Array.isArray(field) ? field : present ? [field] : [];
  let any = false;
  for (const m of matchers) {
    let ok: boolean;
    if (isObject(m)) {
      if ('exists' in m) {
        if (typeof m['exists'] !== 'boolean' || Object.keys(m).length !== 1)
          throw new EventPatternError(path, 'exists takes true or false');
        // exists works on leaves only: an intermediate object does not count as present.
        ok = m['exists'] ? values.length > 0 : !present;
      } else {
        const test = operator(m, path);
        ok = values.some(test);
      }
    } else if (Array.isArray(m)) {
      throw new EventPatternError(path, 'matchers cannot nest arrays');
    } else {
      ok = values.some((v) => equal(m, v));
    }
    any = any || ok;
  }
  return any;
}

function equal(expected: Json, v: unknown): boolean {
  if (typeof expected === 'number') return typeof v === 'number' && v === expected;
  return expected === v;
}

type Test = (v: unknown) => boolean;

function stringArg(v: unknown, path: string, name: string): string {
  if (typeof v !== 'string') throw new EventPatternError(path, `${name} takes a string`);
  return v;
}

/** prefix / suffix: a string, or `{ "equals-ignore-case": string }`. */
function affix(arg: unknown, path: string, name: string, end: boolean): Test {
  let needle: string;
  let fold = false;
  if (isObject(arg)) {
    if (Object.keys(arg).length !== 1 || !('equals-ignore-case' in arg))
      throw new EventPatternError(path, `${name} takes a string or { "equals-ignore-case": string }`);
    needle = stringArg(arg['equals-ignore-case'], path, `${name}.equals-ignore-case`);
    fold = true;
  } else needle = stringArg(arg, path, name);
  const n = fold ? needle.toLowerCase() : needle;
  return (v) => {
    if (typeof v !== 'string') return false;
    const s = fold ? v.toLowerCase() : v;
    return end ? s.endsWith(n) : s.startsWith(n);
  };
}

function wildcard(arg: unknown, path: string): Test {
  const text = stringArg(arg, path, 'wildcard');
  if (/(?<!\\)\*\*/.test(text)) throw new EventPatternError(path, 'wildcard cannot have consecutive *');
  let source = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== '*' && next !== '\\')
        throw new EventPatternError(path, 'wildcard escapes only * and \\ with a backslash');
      source += `\\${next}`;
      i++;
    } else if (c === '*') source += '.*';
    else source += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  const re = new RegExp(`^${source}$`, 's');
  return (v) => typeof v === 'string' && re.test(v);
}

const NUMERIC_OPS = new Set(['=', '<', '<=', '>', '>=']);

function numeric(arg: unknown, path: string): Test {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0)
    throw new EventPatternError(path, 'numeric takes [op, number] or [op, number, op, number]');
  const checks: Test[] = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const n = arg[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPS.has(op) || typeof n !== 'number')
      throw new EventPatternError(
        path,
        `numeric: "${String(op)}" ${String(n)} is not an operator and number`,
      );
    checks.push((v) => {
      const x = v as number;
      switch (op) {
        case '=':
          return x === n;
        case '<':
          return x < n;
        case '<=':
          return x <= n;
        case '>':
          return x > n;
        default:
          return x >= n;
      }
    });
  }
  return (v) => typeof v === 'number' && checks.every((c) => c(v));
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function cidr(arg: unknown, path: string): Test {
  const text = stringArg(arg, path, 'cidr');
  const [addr, bitsText] = text.split('/');
  const base = ipv4(addr ?? '');
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32)
    throw new EventPatternError(path, `cidr "${text}" is not an IPv4 block (IPv6 is not supported here)`);
  const size = 2 ** (32 - bits);
  const start = Math.floor(base / size) * size;
  return (v) => {
    if (typeof v !== 'string') return false;
    const n = ipv4(v);
    return n !== undefined && n >= start && n < start + size;
  };
}

function anythingBut(arg: unknown, path: string): Test {
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    if (keys.length !== 1) throw new EventPatternError(path, 'anything-but takes one operator');
    const key = keys[0]!;
    const inner = arg[key];
    let test: Test;
    if (key === 'prefix' || key === 'suffix')
      test = affix(inner, path, `anything-but.${key}`, key === 'suffix');
    else if (key === 'equals-ignore-case' || key === 'wildcard') {
      const list = Array.isArray(inner) ? inner : [inner];
      const tests = list.map((s) =>
        key === 'wildcard'
          ? wildcard(s, path)
          : (
              (needle: string): Test =>
              (v) =>
                typeof v === 'string' && v.toLowerCase() === needle.toLowerCase()
            )(stringArg(s, path, 'anything-but.equals-ignore-case')),
      );
      test = (v) => tests.some((t) => t(v));
    } else throw new EventPatternError(path, `anything-but does not take "${key}"`);
    // The negated string operators match string values only.
    return (v) => typeof v === 'string' && !test(v);
  }
  const list = Array.isArray(arg) ? arg : [arg];
  if (list.length === 0) throw new EventPatternError(path, 'anything-but needs a value');
  const kinds = new Set(list.map((x) => typeof x));
  if (kinds.size !== 1 || !(kinds.has('string') || kinds.has('number')))
    throw new EventPatternError(path, 'anything-but takes only strings or only numbers');
  return (v) => !list.some((x) => equal(x as Json, v));
}

function operator(m: JsonObject, path: string): Test {
  const keys = Object.keys(m);
  // prefix with equals-ignore-case is written either nested or side by side in a few examples;
  // EventBridge documents the nested form only.
  if (keys.length !== 1)
    throw new EventPatternError(path, `one operator per matcher, got ${keys.join(', ')}`);
  const key = keys[0]!;
  const arg = m[key];
  switch (key) {
    case 'prefix':
      return affix(arg, path, 'prefix', false);
    case 'suffix':
      return affix(arg, path, 'suffix', true);
    case 'equals-ignore-case': {
      const needle = stringArg(arg, path, 'equals-ignore-case').toLowerCase();
      return (v) => typeof v === 'string' && v.toLowerCase() === needle;
    }
    case 'wildcard':
      return wildcard(arg, path);
    case 'anything-but':
      return anythingBut(arg, path);
    case 'numeric':
      return numeric(arg, path);
    case 'cidr':
      return cidr(arg, path);
    default:
      throw new EventPatternError(path, `unknown operator "${key}"`);
  }
}
