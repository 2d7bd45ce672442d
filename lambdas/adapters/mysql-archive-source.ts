/**
 * {@link ArchiveSourcePort} on the legacy MySQL/MariaDB database: keyset pages
 * (`WHERE key > ? ORDER BY key LIMIT n`) of the table's listed columns only, in key order.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { ArchiveSourcePort, ArchiveTable, Row } from '../domain/archive.js';
import { ident } from './mysql-legacy.js';

export class MysqlArchiveSource implements ArchiveSourcePort {
  constructor(private readonly pool: Pool) {}

  async primaryKey(table: string): Promise<string | undefined> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
        ORDER BY ORDINAL_POSITION`,
      [table],
    );
    return rows.length === 1 ? String(rows[0]!['c']) : undefined;
  }

  async readPage(table: ArchiveTable, after: unknown, limit: number): Promise<Row[]> {
    const t = ident(table.table);
    const k = ident(table.key);
    const n = Math.max(1, Math.floor(limit));
    const cols = table.columns.map(ident).join(', ');
    const [rows] =
      after === undefined
        ? await this.pool.query<RowDataPacket[]>(`SELECT ${cols} FROM ${t} ORDER BY ${k} LIMIT ${n}`)
        : await this.pool.query<RowDataPacket[]>(
            `SELECT ${cols} FROM ${t} WHERE ${k} > ? ORDER BY ${k} LIMIT ${n}`,
            [after],
          );
    return rows as Row[];
  }
}
