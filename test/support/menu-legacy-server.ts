/**
 * A loopback stand-in for the Restaurant Service's menu-item API (the menu migration's legacy
 * side), enough of it for `HttpLegacyStore`: `GET /api/v1/menu-items/{id}`, `PATCH` of one (conditional on
 * its `If-Match` version, which the write moves on) and the full listing
 * convention `GET /api/v1/menu-items?limit=&afterId=` (items with id > afterId in id order, at
 * most `limit` and at most `maxPageSize`, as `{ items }`). `fault` replaces the answer to a request
 * (an HTTP status, or `'hang'`: never answer).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FieldValue } from '../../lambdas/domain/events.js';

/** A menu item in the canonical form the sync compares (decimals at scale 2). */
export interface MenuItem {
  readonly id: string;
  readonly restaurantId: string;
  readonly name: string;
  readonly description: string | null;
  readonly price: string;
  readonly currency: string | null;
  readonly available: boolean | null;
  readonly category: string | null;
}

/** The canonical data of an item (field name -> value), as `StoredRecord.data` holds it. */
export function canonicalData(item: MenuItem): Record<string, FieldValue> {
  const { id: _id, ...data } = item;
  return data;
}

/**
 * `n` items with string ids (`mi-…`, a few numeric-looking ones), varied values: nulls, non-ASCII
 * text, prices that are whole, one-decimal or two-decimal.
 */
export function menuItems(n: number): MenuItem[] {
  const out: MenuItem[] = [];
  for (let i = 0; i < n; i++) {
    const id = i % 97 === 13 ? String(1000 + i) : `mi-${((i * 2_654_435_761) >>> 0).toString(36)}-${i}`;
    out.push({
      id,
      restaurantId: `r-${i % 7}`,
      name: i % 11 === 0 ? `Crème brûlée ${i}` : `Dish ${i}`,
      description: i % 5 === 0 ? null : `Tasty | ${i}`,
      price: `${3 + (i % 20)}.${String((i * 37) % 100).padStart(2, '0')}`,
      currency: i % 13 === 0 ? null : 'EUR',
      available: i % 17 === 0 ? null : i % 3 !== 0,
      category: i % 4 === 0 ? null : ['starter', 'main', 'dessert'][i % 3]!,
    });
  }
  return out;
}

/** An item as the API sends it: prices as numbers or unscaled strings, nulls left out or null. */
export function wireForm(item: MenuItem, version = 1): Record<string, unknown> {
  const n = Number(item.price);
  const body: Record<string, unknown> = {
    ...item,
    price: item.price.endsWith('0') ? n : item.price,
    version,
    updatedAt: '2026-11-20T08:00:00.000Z',
  };
  // Some nulls travel as absent properties.
  for (const k of ['description', 'category'] as const) if (body[k] === null && n % 2 === 0) delete body[k];
  return body;
}

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization?: string;
}

export type Fault = number | 'hang' | 'ignore-after-id' | undefined;

export interface MenuLegacyServer {
  /** Base URL (`http://127.0.0.1:<port>/api/v1`). */
  readonly baseUrl: string;
  readonly seen: SeenRequest[];
  /** Current items by id (wire form); edit to change the legacy side. */
  readonly items: Map<string, Record<string, unknown>>;
  /** Decides a fault per request (default none). */
  fault(fn: ((req: SeenRequest) => Fault) | undefined): void;
  /** Listing requests seen so far. */
  listings(): SeenRequest[];
  close(): Promise<void>;
}

export async function startMenuLegacyServer(
  items: readonly MenuItem[],
  options: { maxPageSize?: number; token?: string } = {},
): Promise<MenuLegacyServer> {
  const store = new Map(items.map((i) => [i.id, wireForm(i)]));
  const seen: SeenRequest[] = [];
  let faultOf: ((req: SeenRequest) => Fault) | undefined;
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const r: SeenRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    seen.push(r);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, url, r, Buffer.concat(chunks).toString('utf8')));
  });
  const answer = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    r: SeenRequest,
    body: string,
  ) => {
    const fault = faultOf?.(r);
    if (fault === 'hang') return;
    if (typeof fault === 'number') return json(res, fault, { error: 'injected' });
    if (options.token && r.authorization !== `Bearer ${options.token}`) return json(res, 401, {});
    if (r.method === 'GET' && url.pathname === '/api/v1/menu-items') {
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 100), options.maxPageSize ?? 1000);
      const after = fault === 'ignore-after-id' ? null : url.searchParams.get('afterId');
      // Ordered by id (code-unit order): the API's id order.
      const ids = [...store.keys()].sort().filter((id) => after === null || id > after);
      return json(res, 200, { items: ids.slice(0, limit).map((id) => store.get(id)) });
    }
    const m = /^\/api\/v1\/menu-items\/([^/]+)$/.exec(url.pathname);
    if (r.method === 'GET' && m) {
      const item = store.get(decodeURIComponent(m[1]!));
      return item ? json(res, 200, item) : json(res, 404, {});
    }
    if (r.method === 'PATCH' && m) {
      // Conditional on the version read (If-Match), which the write moves on.
      const id = decodeURIComponent(m[1]!);
      const item = store.get(id);
      if (!item) return json(res, 404, {});
      const ifMatch = req.headers['if-match'];
      if (ifMatch !== undefined && ifMatch !== String(item['version'])) return json(res, 412, {});
      const next = {
        ...item,
        ...(JSON.parse(body) as Record<string, unknown>),
        version: Number(item['version']) + 1,
      };
      store.set(id, next);
      return json(res, 200, next);
    }
    json(res, 404, {});
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    seen,
    items: store,
    fault(fn) {
      faultOf = fn;
    },
    listings: () => seen.filter((s) => s.method === 'GET' && s.path === '/api/v1/menu-items'),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
