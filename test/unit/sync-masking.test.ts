import { describe, expect, it } from 'vitest';
import { describeError, maskPii } from '../../lambdas/domain/masking.js';

describe('Function: maskPii', () => {
  it('masks emails and the values drivers quote in their messages', () => {
    expect(
      maskPii("Duplicate entry 'jane.doe@example.com-1' for key 'CUSTOMER_ENTITY_EMAIL_WEBSITE_ID'"),
    ).toBe("Duplicate entry '***' for key 'CUSTOMER_ENTITY_EMAIL_WEBSITE_ID'");
    expect(maskPii('customer jane.doe@example.com failed')).toBe('customer j***@e*** failed');
    expect(describeError(new TypeError('bad value for ada@lovelace.org'))).toBe(
      'TypeError: bad value for a***@l***',
    );
  });
});
