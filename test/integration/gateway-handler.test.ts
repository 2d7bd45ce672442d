/**
 * The Lambda handler module as deployed: wired from its environment only (the migration name,
 * the stage, AppConfig ids, upstream overrides), with the AWS SDK's standard endpoint variable
 * pointing the AppConfig Data client at a loopback stand-in, and invoked with API Gateway events
 * of the recorded shape. Nothing leaves 127.0.0.1.
 */
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf, inCohort } from '../../lambdas/domain/routing.js';
import {
  apiGatewayEvent,
  type FakeAppConfigData,
  type FakeUpstream,
  flagValues,
  startAppConfigData,
  startUpstream,
} from '../support/gateway-fakes.js';

let legacy: FakeUpstream;
let service: FakeUpstream;
let appconfig: FakeAppConfigData;
const saved = { ...process.env };

beforeAll(async () => {
  [legacy, service, appconfig] = await Promise.all([
    startUpstream('restaurant-service'),
    startUpstream('menu-service'),
    startAppConfigData(Date.now),
  ]);
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_APPCONFIGDATA: appconfig.url,
    CUTOVER_MIGRATION: 'menu',
    CUTOVER_STAGE: 'prod',
    CUTOVER_APPCONFIG_APPLICATION_ID: 'app',
    CUTOVER_APPCONFIG_ENVIRONMENT_ID: 'env',
    CUTOVER_APPCONFIG_PROFILE_ID: 'flags',
    CUTOVER_GATEWAY_UPSTREAMS: JSON.stringify({ menu: { serviceUrl: service.url, legacyUrl: legacy.url } }),
    CUTOVER_GATEWAY_FALLBACK_URL: legacy.url,
    CUTOVER_GATEWAY_SHADOW_GRACE_MS: '200',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([legacy.close(), service.close(), appconfig.close()]);
});

const context = {
  functionName: 'gateway',
  functionVersion: '$LATEST',
  awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:gateway',
  memoryLimitInMB: '1024',
  getRemainingTimeInMillis: () => 5_000,
} as unknown as Context;

const event = (method: string, target: string, headers: Record<string, string> = {}) =>
  apiGatewayEvent({ method, target, headers: Object.entries(headers) });

/** A user key inside (or outside) the menu canary at `percentage`. */
const userAt = (percentage: number, inside: boolean) => {
  for (let i = 0; ; i++) {
    if (inCohort(bucketOf('menu', `user-${i}`), percentage) === inside) return `user-${i}`;
  }
};

describe('Handler: gateway (wired from the environment)', () => {
  it('routes the menu migration by the flags it reads from AppConfig Data, ignoring x-canary outside dev', async () => {
    appconfig.deploy(flagValues('menu', { percentage: 50 }, { mode: 'legacy' }));
    const { handler } = await import('../../lambdas/handlers/gateway.js');

    const read = await handler(event('GET', '/menu-items/7', { 'x-user-id': userAt(50, true) }), context);
    expect(read).toMatchObject({ statusCode: 200, headers: { 'x-cutover-target': 'service' } });
    expect(JSON.parse(String(read.body)).upstream).toBe('menu-service');

    // CUTOVER_STAGE=prod and the menu spec leaves gateway.canaryOverride unset: the header is ignored.
    const forced = await handler(
      event('GET', '/menu-items/8', { 'x-user-id': userAt(50, false), 'x-canary': 'true' }),
      context,
    );
    expect(forced).toMatchObject({ statusCode: 200, headers: { 'x-cutover-target': 'legacy' } });

    const write = await handler(event('POST', '/menu-items', { 'x-user-id': 'u1' }), context);
    expect(write).toMatchObject({ statusCode: 200, headers: { 'x-cutover-target': 'legacy' } });

    const unrouted = await handler(event('GET', '/restaurants/1'), context);
    expect(JSON.parse(String(unrouted.body)).upstream).toBe('restaurant-service');

    expect(service.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /menu-items/7']);
    expect(legacy.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /menu-items/8',
      'POST /menu-items',
      'GET /restaurants/1',
    ]);
    expect(legacy.seen[0]?.headers).not.toHaveProperty('x-canary');
    expect(appconfig.stats.sessions).toBe(1);
  });
});
