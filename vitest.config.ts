import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no database (domain, properties, templates, rollout); `integration`
// runs against real MariaDB and DynamoDB Local, which its global setup finds, starts or installs.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'test/unit/**/*.test.ts',
            'test/property/**/*.test.ts',
            'test/infra/**/*.test.ts',
            'test/rollout/**/*.test.ts',
          ],
          setupFiles: ['test/support/setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/support/setup.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
