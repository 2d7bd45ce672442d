/**
 * {@link ArchiveSourcePort} on the legacy MySQL/MariaDB database: keyset pages
 * (`WHERE key > ? ORDER BY key LIMIT n`), every column, in key order.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { ArchiveSourcePort, ArchiveTable, Row } from '../domain/archive.js';
import { ident } from './mysql-legacy.js';

export class MysqlArchiveSource implements ArchiveSourcePort {
  constructor(private readonly pool: Pool) {}

  async readPage(table: ArchiveTable, after: unknown, limit: number): Promise<Row[]> {
    const t = ident(table.table);
    const k = ident(table.key);
    const n = Math.max(1, Math.floor(limit));
    const [rows] =
      after === undefined
        ? await this.pool.query<RowDataPacket[]>(`SELECT * FROM ${t} ORDER BY ${k} LIMIT ${n}`)
        : await this.pool.query<RowDataPacket[]>(
            `SELECT * FROM ${t} WHERE ${k} > ? ORDER BY ${k} LIMIT ${n}`,
            [after],
          );
    return rows as Row[];
  }
}
