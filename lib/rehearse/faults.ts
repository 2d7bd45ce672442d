/**
 * The faults a rehearsal injects, from `--fault` specs, and the stand-ins that inject them at a
 * port or upstream:
 *
 * | spec | where |
 * | --- | --- |
 * | `poison=<n>` / `poison=<p>%` | events the contract rejects, on the forward channel |
 * | `crash-after-write=<p>%` | a sync invocation fails after its handler returned |
 * | `mariadb-restart@<time>` | the throwaway MariaDB is stopped and started |
 * | `service-errors=<p>%[@<time>\|@<Step>]` | the service upstream answers 500 to that share of the gateway's calls |
 * | `service-latency=<ms>ms[@<time>\|@<Step>]` | the service upstream answers that much later |
 * | `dynamo-throttle=<p>%` | that share of the functions' DynamoDB calls is refused with `ProvisionedThroughputExceededException` |
 *
 * `@<time>` counts from the start of the traffic; `@<Step>` (`@Canary25`) starts the fault when
 * the rollout's step of that id has its flags deployed (its bake begins). Without `@` the fault
 * is on from the start.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A `--fault` spec the rehearsal cannot inject. */
export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

/** When a fault starts: ms into the traffic, or when a rollout step's flags are deployed. */
export type FaultStart = { readonly atMs: number } | { readonly step: string };

/** The faults to inject, parsed. */
export interface FaultPlan {
  readonly poisonEvents: number;
  /** 0..1 */
  readonly crashAfterWrite: number;
  readonly mariadbRestartAtMs?: number;
  readonly serviceErrors?: { readonly rate: number; readonly start: FaultStart; readonly label: string };
  readonly serviceLatency?: { readonly ms: number; readonly start: FaultStart; readonly label: string };
  /** 0..1 */
  readonly dynamoThrottle?: number;
}

/** `2m`, `90s`, `1500ms`, or seconds as a plain number. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new FaultSpecError(`"${text}" is not a duration (e.g. 90s, 2m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

function startOf(at: string | undefined): FaultStart {
  if (at === undefined) return { atMs: 0 };
  if (/^[A-Z][A-Za-z0-9]*$/.test(at)) return { step: at };
  return { atMs: parseDuration(at) };
}

const percent = (spec: string, text: string) => {
  const n = Number(text);
  if (!(n >= 0 && n <= 100)) throw new FaultSpecError(`--fault ${spec}: the share must be 0-100 %`);
  return n / 100;
};

/** Parses `--fault` specs; an unknown kind is refused by name. */
export function parseFaults(specs: readonly string[], totalChanges: number): FaultPlan {
  let poisonEvents = 0;
  let crashAfterWrite = 0;
  let mariadbRestartAtMs: number | undefined;
  let serviceErrors: FaultPlan['serviceErrors'];
  let serviceLatency: FaultPlan['serviceLatency'];
  let dynamoThrottle: number | undefined;
  for (const spec of specs) {
    const poison = /^poison=(\d+(?:\.\d+)?)(%)?$/.exec(spec);
    const crash = /^crash-after-write=(\d+(?:\.\d+)?)%$/.exec(spec);
    const restart = /^mariadb-restart@(.+)$/.exec(spec);
    const errors = /^service-errors=(\d+(?:\.\d+)?)%(?:@(.+))?$/.exec(spec);
    const latency = /^service-latency=(\d+)ms(?:@(.+))?$/.exec(spec);
    const throttle = /^dynamo-throttle=(\d+(?:\.\d+)?)%$/.exec(spec);
    if (poison) {
      const n = Number(poison[1]);
      poisonEvents += poison[2] ? Math.max(1, Math.ceil((totalChanges * n) / 100)) : Math.round(n);
    } else if (crash) {
      crashAfterWrite = percent(spec, crash[1]!);
    } else if (restart) {
      mariadbRestartAtMs = parseDuration(restart[1]!);
    } else if (errors) {
      serviceErrors = { rate: percent(spec, errors[1]!), start: startOf(errors[2]), label: spec };
    } else if (latency) {
      serviceLatency = { ms: Number(latency[1]), start: startOf(latency[2]), label: spec };
    } else if (throttle) {
      dynamoThrottle = percent(spec, throttle[1]!);
    } else {
      throw new FaultSpecError(
        `--fault ${spec}: not a fault this version injects (poison=<n>|<p>%, crash-after-write=<p>%, ` +
          'mariadb-restart@<time>, service-errors=<p>%[@<time>|@<Step>], service-latency=<ms>ms[@<time>|@<Step>], ' +
          'dynamo-throttle=<p>%)',
      );
    }
  }
  return {
    poisonEvents,
    crashAfterWrite,
    ...(mariadbRestartAtMs !== undefined ? { mariadbRestartAtMs } : {}),
    ...(serviceErrors ? { serviceErrors } : {}),
    ...(serviceLatency ? { serviceLatency } : {}),
    ...(dynamoThrottle !== undefined ? { dynamoThrottle } : {}),
  };
}

/**
 * DynamoDB's answer to a throttled request: HTTP 400 with the JSON error body of the DynamoDB
 * API (`__type` namespaced `com.amazonaws.dynamodb.v20120810#`, `message`), as recorded in
 * test/contracts/dynamodb/provisioned-throughput-exceeded.json (checked by
 * test/unit/rehearse-faults.test.ts).
 */
export const THROTTLE_RESPONSE = {
  status: 400,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: {
    __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'You exceeded your maximum allowed provisioned throughput for a table or for one or more global secondary indexes. To view performance metrics for provisioned throughput vs. consumed throughput, open the Amazon CloudWatch console.',
  },
} as const;

/** A proxy in front of DynamoDB Local that throttles a share of the requests. */
export interface ThrottleProxy {
  readonly endpoint: string;
  readonly stats: { requests: number; throttled: number };
  close(): Promise<void>;
}

/**
 * Forwards every request to `target` except `rate` of them, answered with
 * {@link THROTTLE_RESPONSE} as DynamoDB would; the SDK's retry strategy retries them (a
 * throttling error), as it does on AWS.
 */
export async function startThrottleProxy(
  target: string,
  rate: number,
  random: () => number = Math.random,
): Promise<ThrottleProxy> {
  const to = new URL(target);
  const stats = { requests: 0, throttled: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    stats.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (random() < rate) {
        stats.throttled++;
        const body = JSON.stringify(THROTTLE_RESPONSE.body);
        res.writeHead(THROTTLE_RESPONSE.status, {
          ...THROTTLE_RESPONSE.headers,
          'content-length': Buffer.byteLength(body),
          'x-amzn-requestid': `throttle-${stats.throttled}`,
        });
        res.end(body);
        return;
      }
      const upstream = http.request(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
