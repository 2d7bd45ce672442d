/** Rollout task `Archive` (phase 5): legacy tables to S3 as gzip NDJSON with a SHA-256 manifest. */
import { RUNTIME_ENV, requiredEnv } from '../../lib/spec/runtime.js';
import { S3ArchiveStore } from '../adapters/s3-archive.js';
import { archiveService } from '../domain/archive.js';
import { specFromEnv } from './bundled-spec.js';
import { taskHandler } from './rollout-runtime.js';

/** The MySQL adapters, loaded when a MySQL legacy is archived (an HTTP legacy never loads mysql2). */
const mysql = async () => {
  const [{ MysqlArchiveSource }, { createMysqlPool, mysqlOptionsFromEnv }] = await Promise.all([
    import('../adapters/mysql-archive-source.js'),
    import('../adapters/mysql-legacy.js'),
  ]);
  return { MysqlArchiveSource, pool: createMysqlPool(await mysqlOptionsFromEnv()) };
};

export const handler = taskHandler(
  'archive',
  async (input: { migration: string; service: string; executionName: string }) => {
    const spec = specFromEnv();
    const store = new S3ArchiveStore(requiredEnv(RUNTIME_ENV.archiveBucket));
    const db = spec.legacy.kind === 'mysql' ? await mysql() : undefined;
    const pool = db?.pool;
    try {
      return await archiveService(spec, input.service, {
        source: db ? new db.MysqlArchiveSource(db.pool) : undefined,
        store,
        now: Date.now,
        runId: input.executionName,
      });
    } finally {
      await pool?.end();
    }
  },
);
