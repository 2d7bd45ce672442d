import { describe, expect, it } from 'vitest';
import { publicLocation, upstreamHeaders, withoutHopByHop } from '../../lambdas/domain/forwarding.js';
import { canaryOverrideFor } from '../../lambdas/domain/gateway-router.js';

describe('Function: upstreamHeaders', () => {
  const client = {
    accept: 'application/json',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-for': '10.0.0.1, 198.51.100.7',
    'x-forwarded-proto': 'http',
    'x-forwarded-port': '80',
    'x-forwarded-server': 'evil',
    forwarded: 'for=10.0.0.1;host=evil.example',
    'x-real-ip': '10.0.0.1',
    'x-client-ip': '10.0.0.1',
    'x-original-url': '/admin',
    'x-rewrite-url': '/admin',
    'x-canary': 'true',
    connection: 'keep-alive, x-hop',
    'x-hop': '1',
    'keep-alive': 'timeout=5',
    te: 'trailers',
    trailer: 'x-checksum',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'proxy-authorization': 'Basic x',
    'proxy-connection': 'keep-alive',
    host: 'evil.example',
    'content-length': '999',
    authorization: 'Bearer t',
    cookie: 'stale=1',
  };

  it("keeps end-to-end headers, sets the gateway's own forwarding headers and drops the client's", () => {
    expect(
      upstreamHeaders(client, ['a=1', 'b=2'], { sourceIp: '198.51.100.7', publicHost: 'shop.example.com' }),
    ).toEqual({
      accept: 'application/json',
      authorization: 'Bearer t',
      cookie: 'a=1; b=2',
      'x-forwarded-for': '198.51.100.7',
      'x-forwarded-host': 'shop.example.com',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
    });
  });

  it('sets no address or host it does not know, and never keeps the client one instead', () => {
    const h = upstreamHeaders(client, undefined, {});
    expect(h).not.toHaveProperty('x-forwarded-for');
    expect(h).not.toHaveProperty('x-forwarded-host');
    expect(h).toMatchObject({ 'x-forwarded-proto': 'https', cookie: 'stale=1' });
  });
});

describe('Function: withoutHopByHop', () => {
  it('drops hop-by-hop headers, every proxy-* header and those Connection names, and lower-cases', () => {
    expect(
      withoutHopByHop({
        Connection: 'close',
        connection: 'Close, X-Named',
        'x-named': 'a',
        'proxy-anything': 'b',
        'Set-Cookie': ['a=1', 'b=2'],
        'X-Kept': 'c',
        skipped: undefined,
      }),
    ).toEqual({ 'set-cookie': ['a=1', 'b=2'], 'x-kept': 'c' });
  });
});

describe('Function: publicLocation', () => {
  const bases = ['http://10.0.1.5:8080', 'https://legacy.internal/shop', 'http://customer.svc.local'];

  it('maps an upstream URL to the public host, dropping a base path the gateway adds', () => {
    expect(publicLocation('http://10.0.1.5:8080/customers/2?x=1#top', bases, 'shop.example.com')).toBe(
      'https://shop.example.com/customers/2?x=1#top',
    );
    expect(publicLocation('https://legacy.internal/shop/checkout', bases, 'shop.example.com')).toBe(
      'https://shop.example.com/checkout',
    );
    expect(publicLocation('https://legacy.internal/shop', bases, 'shop.example.com')).toBe(
      'https://shop.example.com/',
    );
    expect(publicLocation('HTTP://CUSTOMER.SVC.LOCAL/customers', bases, 'shop.example.com')).toBe(
      'https://shop.example.com/customers',
    );
  });

  it('treats the same host on another port or scheme, and protocol-relative URLs, as internal', () => {
    expect(publicLocation('https://10.0.1.5/login', bases, 'shop.example.com')).toBe(
      'https://shop.example.com/login',
    );
    expect(publicLocation('//customer.svc.local/a', bases, 'shop.example.com')).toBe(
      'https://shop.example.com/a',
    );
  });

  it('answers a path-absolute reference when the public host is unknown', () => {
    expect(publicLocation('http://10.0.1.5:8080/customers/2', bases)).toBe('/customers/2');
  });

  it('leaves relative references and other hosts alone', () => {
    for (const loc of ['/customers/4', 'next', '?page=2', 'https://payments.example/pay', 'mailto:a@b.c']) {
      expect(publicLocation(loc, bases, 'shop.example.com')).toBe(loc);
    }
  });
});

describe('Function: canaryOverrideFor', () => {
  it('honours x-canary in dev only, unless the spec says otherwise', () => {
    expect(canaryOverrideFor(undefined, 'dev')).toBe(true);
    expect(canaryOverrideFor(undefined, 'staging')).toBe(false);
    expect(canaryOverrideFor(undefined, 'prod')).toBe(false);
    expect(canaryOverrideFor(undefined, undefined)).toBe(false);
    expect(canaryOverrideFor(true, 'prod')).toBe(true);
    expect(canaryOverrideFor(false, 'dev')).toBe(false);
  });
});
