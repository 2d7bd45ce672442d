/**
 * What the gateway tells an upstream about the client, and what it lets an upstream tell the
 * client: the request headers it forwards and the `Location` it returns. Pure: no I/O.
 *
 * An upstream (Magento, a new service) builds absolute URLs, checks client addresses and picks
 * virtual hosts from `X-Forwarded-*` / `Forwarded`. Passing the client's own values through lets
 * anyone poison those (password-reset links to their host, allow-lists by a forged address), so
 * the gateway drops every such header the client sent and sets its own from what API Gateway
 * observed. Redirects an upstream issues to its own (internal) address are mapped back to the
 * gateway's public host, so internal names never reach clients.
 */

/**
 * Headers that belong to one connection, not to the message (RFC 9110 §7.6.1), plus `host`
 * (the upstream's, set by the HTTP client) and `content-length` (recomputed from the body).
 * Every `proxy-*` header is dropped too (see {@link isHopByHop}).
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/** Whether a (lower-case) header name is hop-by-hop, including every `proxy-*` header. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-');
}

/**
 * Headers by which a client could claim another address, host, scheme or path to an upstream
 * that trusts its proxy. Dropped from every request; the gateway sets its own `x-forwarded-*`.
 */
function isClientForwarding(name: string): boolean {
  return (
    name === 'forwarded' ||
    name.startsWith('x-forwarded-') ||
    name === 'x-real-ip' ||
    name === 'x-client-ip' ||
    name === 'x-original-url' ||
    name === 'x-rewrite-url'
  );
}

/** The gateway's routing override: read by the router, never sent upstream. */
export const CANARY_HEADER = 'x-canary';

/** Drops hop-by-hop headers, including those the `connection` header names. Lower-cases names. */
export function withoutHopByHop<V extends string | readonly string[]>(
  headers: Readonly<Record<string, V | undefined>>,
): Record<string, V> {
  const connection = headers['connection'];
  const named = new Set(
    String(connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, V> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (v === undefined || isHopByHop(name) || named.has(name)) continue;
    out[name] = v;
  }
  return out;
}

/** Where a request came from, as API Gateway observed it. */
export interface ClientOrigin {
  /** The client's address (`requestContext.http.sourceIp`). */
  readonly sourceIp?: string;
  /** The public host the client called (`requestContext.domainName`). */
  readonly publicHost?: string;
}

/**
 * The headers to send upstream: the client's end-to-end headers without hop-by-hop ones, without
 * any forwarding claim and without `x-canary`; the cookies (API Gateway v2 moves them out of the
 * headers); and the gateway's own `X-Forwarded-For` (the source IP only: a client-sent chain is
 * not evidence), `X-Forwarded-Host` (the public host), `X-Forwarded-Proto: https` and
 * `X-Forwarded-Port: 443` (an HTTP API serves HTTPS on 443 only).
 */
export function upstreamHeaders(
  headers: Readonly<Record<string, string | undefined>>,
  cookies: readonly string[] | undefined,
  origin: ClientOrigin,
): Record<string, string> {
  const out = withoutHopByHop(headers);
  for (const name of Object.keys(out)) {
    if (isClientForwarding(name) || name === CANARY_HEADER) delete out[name];
  }
  if (cookies?.length) out['cookie'] = cookies.join('; ');
  if (origin.sourceIp) out['x-forwarded-for'] = origin.sourceIp;
  if (origin.publicHost) out['x-forwarded-host'] = origin.publicHost;
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-port'] = '443';
  return out;
}

/**
 * A `Location` (or `Content-Location`) as the client should see it. When it names the host of
 * one of the upstreams (`internalBases`; on any port or scheme, and a protocol-relative `//host/…`
 * too), the upstream's base is replaced by `https://<publicHost>`, or by nothing (a
 * path-absolute reference) when the public host is unknown; a base path (`http://legacy/shop`)
 * is taken off as the gateway adds it on the way in. Relative references and other hosts are
 * returned unchanged.
 */
export function publicLocation(
  location: string,
  internalBases: readonly string[],
  publicHost?: string,
): string {
  if (!/^([a-z][a-z0-9+.-]*:)?\/\//i.test(location)) return location; // relative: already public
  let url: URL;
  try {
    url = new URL(location, 'http://relative.invalid');
  } catch {
    return location;
  }
  // The same host and port first (its base path is known), else the same host on another port
  // or scheme: still an internal name.
  const bases = internalBases.map((b) => new URL(b));
  const base = bases.find((b) => b.host === url.host) ?? bases.find((b) => b.hostname === url.hostname);
  if (base) {
    const basePath = base.pathname.replace(/\/$/, '');
    let path = url.pathname;
    if (basePath && (path === basePath || path.startsWith(`${basePath}/`))) {
      path = path.slice(basePath.length) || '/';
    }
    const rest = `${path}${url.search}${url.hash}`;
    return publicHost ? `https://${publicHost}${rest}` : rest;
  }
  return location;
}
