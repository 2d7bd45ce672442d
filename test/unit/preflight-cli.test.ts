/** `cutover preflight`'s argument errors: said plainly, before any connection. */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { databaseUrlFromSecret, PreflightUsageError, preflight } from '../../lib/cli/preflight-command.js';
import { parseGrants } from '../../lib/preflight/checks.js';
import { magento, menu } from '../../migrations/index.js';

describe('cutover preflight: usage errors', () => {
  it('names the migrations there are, refuses an http legacy side and wants one database source', async () => {
    await expect(
      preflight([magento, menu], { migration: 'shop', env: 'dev', databaseUrl: 'mysql://x/y' }),
    ).rejects.toThrow('unknown migration "shop": the specs are magento, menu');
    await expect(
      preflight([magento, menu], { migration: 'menu', env: 'dev', databaseUrl: 'mysql://x/y' }),
    ).rejects.toThrow('has an http legacy side');
    await expect(preflight([magento], { migration: 'magento', env: 'dev' })).rejects.toThrow(
      'give exactly one of --database-url and --secret',
    );
  });

  it('--secret without AWS credentials says so and names the secret', async () => {
    const client = new SecretsManagerClient({
      region: 'eu-west-1',
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
    });
    const err = await databaseUrlFromSecret('magento-db-creds', client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightUsageError);
    expect((err as Error).message).toMatch(
      /^cannot read secret "magento-db-creds" from Secrets Manager \(.*Could not load credentials.*\); check AWS credentials and region, or pass --database-url$/,
    );
  });
});

describe('Function: parseGrants', () => {
  it('reads MariaDB and MySQL grant lines by scope; column grants are skipped', () => {
    expect(
      parseGrants([
        "GRANT USAGE ON *.* TO `sync`@`%` IDENTIFIED BY PASSWORD '*X'",
        'GRANT SELECT, INSERT ON `magento`.* TO `sync`@`%`',
        'GRANT UPDATE ON `magento`.`customer_entity` TO `sync`@`%`',
        'GRANT SELECT (email) ON `magento`.`sales_order` TO `sync`@`%`',
        'GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `sync`@`%`',
      ]),
    ).toEqual([
      { privileges: ['USAGE'], database: '*', table: '*' },
      { privileges: ['SELECT', 'INSERT'], database: 'magento', table: '*' },
      { privileges: ['UPDATE'], database: 'magento', table: 'customer_entity' },
      { privileges: ['REPLICATION SLAVE', 'BINLOG MONITOR'], database: '*', table: '*' },
    ]);
  });
});
