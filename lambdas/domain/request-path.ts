/**
 * The request path in one normal form, computed once: the router matches it and the proxy sends
 * exactly it. Pure: no I/O.
 *
 * Why: a router that matches the raw path while something downstream (the URL parser of the HTTP
 * client, the upstream's web server) resolves dot segments lets `/customers/../admin` be routed
 * as a customer request and served as `/admin` by the service host. Every spelling of a dot
 * segment or separator (`%2e`, `%2E`, `.%2e`, `%2f`, `\`, `%5c`, `//`) is folded into the one form
 * here, so there is nothing left for anyone downstream to reinterpret.
 *
 * API Gateway HTTP APIs hand the function `rawPath` already percent-decoded (recorded in
 * `test/contracts/apigateway/`): the normal form is therefore re-encoded for the wire (a decoded
 * space, `#`, `?` or non-ASCII character is percent-encoded again). A path that is still encoded
 * (another event source, or a client that encoded twice) normalizes to the same form.
 */

/** Why a path was refused (a metric dimension; never the path itself, which may carry ids). */
export type PathRejection =
  | 'malformed-encoding'
  | 'control-character'
  | 'double-encoding'
  | 'ambiguous-dot-segment'
  | 'escapes-root'
  | 'escapes-route';

/** A request path the gateway refuses to route (answered with 400). */
export class RequestPathError extends Error {
  constructor(
    readonly reason: PathRejection,
    message: string,
  ) {
    super(message);
    this.name = 'RequestPathError';
  }
}

/** A normalized path, and where its dot segments started (for the route-escape check). */
export interface NormalPath {
  /** The normal form: `/`-separated, no empty or dot segments, percent-encoded for the wire. */
  readonly path: string;
  /**
   * The normal form of the segments before the first dot segment (`/customers/42/../x` ->
   * `/customers/42`), or `undefined` when the path had none. The router checks that resolving
   * the dot segments did not leave the route this lexical prefix names.
   */
  readonly beforeDotSegments: string | undefined;
}

const HEX = /^[0-9A-Fa-f]{2}$/;
/** RFC 3986 §2.3 unreserved characters: their percent-encoding is decoded (§6.2.2.2). */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Characters a path segment may carry literally (RFC 3986 `pchar` minus `%`). */
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
/** Percent-encodings that spell a separator or a dot: decoded, so they cannot hide. */
const STRUCTURAL: Record<string, string> = { '2E': '.', '2F': '/', '5C': '/' };

/**
 * The normal form of a request path (RFC 3986 §6.2.2 syntax-based normalization, plus the
 * separators upstreams are known to accept):
 *
 * 1. percent-encodings of unreserved characters are decoded (`%34%32` -> `42`, `%2e` -> `.`), so
 *    are `%2F` and `%5C` (to `/`); other escapes are kept with upper-case hex;
 * 2. `\` is a separator (as the WHATWG URL parser and several servers treat it);
 * 3. empty segments (`//`) are dropped;
 * 4. dot segments are removed (RFC 3986 §5.2.4); a trailing dot segment leaves a trailing `/`;
 * 5. characters a path may not carry literally (a decoded space, `#`, `?`, `"`, non-ASCII) are
 *    percent-encoded (UTF-8).
 *
 * @throws RequestPathError `malformed-encoding` (a `%` not followed by two hex digits, a lone
 *   surrogate, no leading `/`), `control-character` (C0 or DEL, also encoded), `double-encoding`
 *   (`%252e`, `%252f`, `%255c`: a separator or dot encoded twice, which a double-decoding upstream
 *   would resolve), `ambiguous-dot-segment` (`..;x`, `.;x`: a dot segment to servlet containers),
 *   `escapes-root` (more `..` than segments).
 */
export function normalizeRequestPath(raw: string): NormalPath {
  if (!raw.startsWith('/') && !raw.startsWith('\\')) {
    throw new RequestPathError('malformed-encoding', 'request path must start with "/"');
  }
  const segments = foldEncoding(raw).split('/'); // segments[0] is the empty one before the first "/"
  const out: string[] = [];
  let beforeDots: string | undefined;
  let trailing = false;
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '.' || seg === '..') {
      beforeDots ??= `/${out.join('/')}`;
      if (seg === '..') {
        if (out.length === 0) throw new RequestPathError('escapes-root', 'request path climbs above "/"');
        out.pop();
      }
      // A trailing dot segment names the directory: `/a/b/..` is `/a/`.
      if (last) trailing = out.length > 0;
      continue;
    }
    if (seg === '') {
      if (last) trailing = out.length > 0; // `//` collapses; a final `/` stays
      continue;
    }
    if (/^\.\.?;/.test(seg)) {
      throw new RequestPathError('ambiguous-dot-segment', 'request path has a dot segment with parameters');
    }
    out.push(seg);
  }
  const path = out.length === 0 ? '/' : `/${out.join('/')}${trailing ? '/' : ''}`;
  return { path, beforeDotSegments: beforeDots };
}

/**
 * Whether `path` (in normal form) lies under `prefix` on a segment boundary: `/customers` holds
 * `/customers` and `/customers/42`, not `/customersX`.
 */
export function isUnderPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47);
}

/**
 * Whether a configured route prefix is already in normal form (the spec refuses others, since a
 * request path in normal form could never match them).
 */
export function isNormalPrefix(prefix: string): boolean {
  try {
    const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    return normalizeRequestPath(p).path === p && !p.includes('%');
  } catch {
    return false;
  }
}

/**
 * The query string for the wire: kept as sent (API Gateway leaves `rawQueryString` encoded) but
 * for characters that may not appear literally, which are percent-encoded, so the query cannot
 * end early or carry a fragment.
 *
 * @throws RequestPathError `control-character`
 */
export function normalizeQuery(query: string): string {
  let out = '';
  for (const ch of query) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f)
      throw new RequestPathError('control-character', 'query has a control character');
    out += PCHAR.test(ch) || ch === '/' || ch === '?' || ch === '%' ? ch : encodeChar(ch);
  }
  return out;
}

/** Steps 1, 2 and 5 of {@link normalizeRequestPath}: one pass over the characters. */
function foldEncoding(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const ch = String.fromCodePoint(raw.codePointAt(i)!);
    const c = ch.codePointAt(0)!;
    i += ch.length;
    if (c < 0x20 || c === 0x7f) {
      throw new RequestPathError('control-character', 'request path has a control character');
    }
    if (ch === '%') {
      const hex = raw.slice(i, i + 2);
      if (!HEX.test(hex))
        throw new RequestPathError('malformed-encoding', 'request path has a malformed %-escape');
      i += 2;
      const h = hex.toUpperCase();
      const byte = Number.parseInt(h, 16);
      if (byte < 0x20 || byte === 0x7f) {
        throw new RequestPathError('control-character', 'request path has an encoded control character');
      }
      if (h === '25' && Object.hasOwn(STRUCTURAL, raw.slice(i, i + 2).toUpperCase())) {
        throw new RequestPathError('double-encoding', 'request path has a twice-encoded separator or dot');
      }
      const plain = String.fromCharCode(byte);
      out += STRUCTURAL[h] ?? (UNRESERVED.test(plain) ? plain : `%${h}`);
      continue;
    }
    if (ch === '\\' || ch === '/') out += '/';
    else if (PCHAR.test(ch)) out += ch;
    else out += encodeChar(ch);
  }
  return out;
}

/** Percent-encodes one character (its UTF-8 bytes). */
function encodeChar(ch: string): string {
  try {
    return encodeURIComponent(ch);
  } catch {
    throw new RequestPathError('malformed-encoding', 'request path has an unpaired surrogate');
  }
}
