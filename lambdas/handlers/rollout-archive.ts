/** Rollout task `Archive` (phase 5): legacy tables to S3 as gzip NDJSON with a SHA-256 manifest. */
import { RUNTIME_ENV } from '../../lib/spec/runtime.js';
import { MysqlArchiveSource } from '../adapters/mysql-archive-source.js';
import { createMysqlPool, mysqlOptionsFromEnv } from '../adapters/mysql-legacy.js';
import { S3ArchiveStore } from '../adapters/s3-archive.js';
import { archiveService } from '../domain/archive.js';
import { migrationFromEnv, requiredEnv, taskHandler } from './rollout-runtime.js';

export const handler = taskHandler(
  'archive',
  async (input: { migration: string; service: string; executionName: string }) => {
    const spec = migrationFromEnv();
    const store = new S3ArchiveStore(requiredEnv(RUNTIME_ENV.archiveBucket));
    const pool = spec.legacy.kind === 'mysql' ? createMysqlPool(await mysqlOptionsFromEnv()) : undefined;
    try {
      return await archiveService(spec, input.service, {
        source: pool ? new MysqlArchiveSource(pool) : undefined,
        store,
        now: Date.now,
        runId: input.executionName,
      });
    } finally {
      await pool?.end();
    }
  },
);
