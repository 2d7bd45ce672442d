import { describe, expect, it } from 'vitest';
import {
  isNormalPrefix,
  isUnderPrefix,
  normalizeQuery,
  normalizeRequestPath,
  type PathRejection,
  RequestPathError,
} from '../../lambdas/domain/request-path.js';

const normal = (raw: string) => normalizeRequestPath(raw).path;

const rejection = (raw: string): PathRejection | undefined => {
  try {
    normalizeRequestPath(raw);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(RequestPathError);
    return (e as RequestPathError).reason;
  }
};

describe('Function: normalizeRequestPath', () => {
  // [raw path as the function may receive it, normal form, where the dot segments started]
  const table: [string, string, string | undefined][] = [
    ['/customers/42', '/customers/42', undefined],
    ['/', '/', undefined],
    ['/customers/', '/customers/', undefined],
    // Dot segments, every spelling: the escape attempts of issue 11.
    ['/customers/../admin', '/admin', '/customers'],
    ['/customers/%2e%2e/admin', '/admin', '/customers'],
    ['/customers/%2E%2E/admin', '/admin', '/customers'],
    ['/customers/.%2e/admin', '/admin', '/customers'],
    ['/customers/%2e./admin', '/admin', '/customers'],
    ['/customers/%2e%2e%2fadmin', '/admin', '/customers'],
    ['/customers/..%2Fadmin', '/admin', '/customers'],
    ['/customers\\..\\admin', '/admin', '/customers'],
    ['/customers%5c..%5cadmin', '/admin', '/customers'],
    ['/customers/%5C..%5Cadmin', '/admin', '/customers'],
    ['/customers//..//admin', '/admin', '/customers'],
    ['/customers/./../admin', '/admin', '/customers'],
    ['/customers/42/../../admin', '/admin', '/customers/42'],
    ['/customers/..', '/', '/customers'],
    ['/customers/41/../42', '/customers/42', '/customers/41'],
    ['/customers/./42/.', '/customers/42/', '/customers'],
    ['/customers/42/..', '/customers/', '/customers/42'],
    // Separators and unreserved characters, encoded or not.
    ['/customers//42', '/customers/42', undefined],
    ['///customers///42//', '/customers/42/', undefined],
    ['/customers\\42', '/customers/42', undefined],
    ['/customers%2f42', '/customers/42', undefined],
    ['/customers/%34%32', '/customers/42', undefined],
    ['/%63ustomers/42', '/customers/42', undefined],
    ['/a/%7euser/%2D_', '/a/~user/-_', undefined],
    // Other escapes stay, with upper-case hex; a decoded character that may not appear in a path
    // (API Gateway hands rawPath decoded) is encoded again.
    ['/customers/a%2bb', '/customers/a%2Bb', undefined],
    ['/customers/jane doe', '/customers/jane%20doe', undefined],
    ['/customers/a#b', '/customers/a%23b', undefined],
    ['/customers/a?b', '/customers/a%3Fb', undefined],
    ['/customers/café', '/customers/caf%C3%A9', undefined],
    ['/customers/😀', '/customers/%F0%9F%98%80', undefined],
    ['/customers/"<x>"', '/customers/%22%3Cx%3E%22', undefined],
    ["/customers/a;b=c:d@e!$&'()*+,", "/customers/a;b=c:d@e!$&'()*+,", undefined],
    ['/customers/jane@example.com', '/customers/jane@example.com', undefined],
    ['/customers/...', '/customers/...', undefined],
    ['/customers/.hidden', '/customers/.hidden', undefined],
  ];

  it.each(table)('normalizes %s to %s', (raw, path, before) => {
    expect(normalizeRequestPath(raw)).toEqual({ path, beforeDotSegments: before });
  });

  it('is idempotent: the normal form normalizes to itself', () => {
    for (const [, path] of table) expect(normal(path)).toBe(path);
  });

  const refused: [string, PathRejection][] = [
    ['/../admin', 'escapes-root'],
    ['/customers/../../admin', 'escapes-root'],
    ['/%2e%2e/admin', 'escapes-root'],
    ['\\..\\admin', 'escapes-root'],
    ['/customers/%zz', 'malformed-encoding'],
    ['/customers/%2', 'malformed-encoding'],
    ['/customers/%', 'malformed-encoding'],
    ['/customers/%%32%65', 'malformed-encoding'],
    ['/customers/\uD800', 'malformed-encoding'],
    ['customers/42', 'malformed-encoding'],
    ['/customers/%00', 'control-character'],
    ['/customers/%0d%0aX-Injected:%20yes', 'control-character'],
    ['/customers/\r\nX-Injected: yes', 'control-character'],
    ['/customers/%7F', 'control-character'],
    ['/customers/%252e%252e/admin', 'double-encoding'],
    ['/customers/..%252fadmin', 'double-encoding'],
    ['/customers/..%255cadmin', 'double-encoding'],
    ['/customers/..;/admin', 'ambiguous-dot-segment'],
    ['/customers/.;x/admin', 'ambiguous-dot-segment'],
  ];

  it.each(refused)('refuses %s (%s)', (raw, reason) => {
    expect(rejection(raw)).toBe(reason);
  });

  it('keeps a %25 that encodes no separator or dot', () => {
    expect(normal('/files/100%25')).toBe('/files/100%25');
    expect(normal('/files/%2541')).toBe('/files/%2541');
  });
});

describe('Function: isUnderPrefix', () => {
  it('matches on segment boundaries only', () => {
    expect(isUnderPrefix('/customers', '/customers')).toBe(true);
    expect(isUnderPrefix('/customers/42', '/customers')).toBe(true);
    expect(isUnderPrefix('/customers/', '/customers')).toBe(true);
    expect(isUnderPrefix('/customersX', '/customers')).toBe(false);
    expect(isUnderPrefix('/customers.json', '/customers')).toBe(false);
    expect(isUnderPrefix('/custom', '/customers')).toBe(false);
    expect(isUnderPrefix('/anything', '/')).toBe(true);
  });
});

describe('Function: isNormalPrefix', () => {
  it('accepts prefixes in normal form and refuses every other spelling', () => {
    for (const p of ['/', '/customers', '/customers/', '/menu-items', '/products/search']) {
      expect(isNormalPrefix(p), p).toBe(true);
    }
    for (const p of [
      '/customers/..',
      '/a/./b',
      '//customers',
      '/a\\b',
      '/%63ustomers',
      '/a b',
      'customers',
    ]) {
      expect(isNormalPrefix(p), p).toBe(false);
    }
  });
});

describe('Function: normalizeQuery', () => {
  it('keeps the query as sent but for characters that would end it or break the request line', () => {
    expect(normalizeQuery('a=1&b=%2F%20x&c=/?d')).toBe('a=1&b=%2F%20x&c=/?d');
    expect(normalizeQuery('q=a b#frag')).toBe('q=a%20b%23frag');
    expect(normalizeQuery('q=café')).toBe('q=caf%C3%A9');
    expect(() => normalizeQuery('q=a\r\nX: y')).toThrow(RequestPathError);
  });
});
