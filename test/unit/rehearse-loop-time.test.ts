/**
 * The gateway's upstream calls in a rehearsal are timed on the time its one event loop ran
 * (lib/rehearse/loop-time.ts): a process starved of CPU must not show as an upstream timeout
 * (which the canary gates count as a service error), while an upstream that does not answer
 * while the loop runs must still time out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpUpstream } from '../../lambdas/adapters/upstream.js';
import { UpstreamError } from '../../lambdas/domain/gateway-router.js';
import { LoopClock, LoopTimedUpstream } from '../../lib/rehearse/loop-time.js';

/** Twice the deadline below: a timeout on the wall clock, whatever the machine's load. */
const STALL_MS = 2000;
const DEADLINE_MS = 1000;

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // `/hang` never answers; `/stall` answers, then the process gets no CPU for STALL_MS (the
    // answer waits on the socket, the deadline passes on the wall clock); anything else at once.
    if (req.url === '/hang') return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    if (req.url === '/stall') stall(STALL_MS);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

/** Blocks the event loop, as a process that gets no CPU for that long. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

const get = (path: string) => ({ method: 'GET', url: `${base}${path}`, headers: {} });

describe('LoopTimedUpstream', () => {
  it('a stall of the loop twice the deadline is not a timeout: the answer waiting is read, the call counted as starved', async () => {
    const clock = new LoopClock();
    const upstream = new LoopTimedUpstream(new HttpUpstream(), clock);
    try {
      await upstream.send(get('/ok'), { timeoutMs: DEADLINE_MS }); // a connection kept alive
      const res = await upstream.send(get('/stall'), { timeoutMs: DEADLINE_MS });
      expect(res.status).toBe(200);
      expect(upstream.starved).toBe(1);
      expect(clock.stalledMs).toBeGreaterThan(STALL_MS / 2);
      // The HTTP upstream alone, timed on the wall clock, calls the same stall a timeout.
      await expect(new HttpUpstream().send(get('/stall'), { timeoutMs: DEADLINE_MS })).rejects.toMatchObject({
        kind: 'timeout',
      });
    } finally {
      clock.close();
    }
  });

  it('an upstream that does not answer while the loop runs times out at the deadline', async () => {
    const clock = new LoopClock();
    const upstream = new LoopTimedUpstream(new HttpUpstream(), clock);
    try {
      const t0 = performance.now();
      const err = await upstream.send(get('/hang'), { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).kind).toBe('timeout');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(upstream.starved).toBe(0);
    } finally {
      clock.close();
    }
  });
});
