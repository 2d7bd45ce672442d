/**
 * Which chunk a legacy key belongs to, for the consistency check, the poller's snapshots and the
 * rollout's backfill: both sides of a comparison place a key with this one function, so their
 * per-chunk counts and checksums line up.
 *
 * - **Unsigned-integer keys** (decimal digits, a safe integer; Magento's entity ids): key-range
 *   chunks, `floor(key / chunkSize)` (0, 1, 2, …). A MySQL store computes the same chunk in SQL
 *   (`FLOOR(key / chunkSize)`) and reads a chunk as the range `[chunk × size, (chunk + 1) × size)`.
 * - **Any other key** (a REST API's string ids such as `m-1f3a`, UUIDs): hash buckets,
 *   `-1 - (crc32(key) mod 1024)` (−1 … −1024; CRC32 of the key's UTF-8 bytes, unsigned). The
 *   bucket count is fixed and `chunkSize` plays no part: a key's chunk must not depend on how
 *   many keys there are or on an option, or the two sides (and the poller's stored snapshots)
 *   would place it differently. A collection of N string keys therefore has chunks of about
 *   N / 1024 keys (about 100 for 100,000 keys); `chunkSize` sizes key-range chunks only.
 *   Hash buckets are negative so they never share an index with a key-range chunk: an entity
 *   with both kinds of key keeps them apart, and a store that reads chunks as key ranges reads an
 *   empty range for a hash bucket.
 */
import { crc32 } from 'node:zlib';

/** Hash buckets for keys that are not unsigned integers. Changing it moves every such key. */
export const HASH_BUCKETS = 1024;

const DIGITS = /^\d+$/;

/** Whether `key` is placed by key range (an unsigned integer in decimal digits). */
export function isRangeKey(key: string): boolean {
  return DIGITS.test(key) && Number.isSafeInteger(Number(key));
}

/**
 * The chunk of a legacy key: `floor(n / chunkSize)` for an unsigned-integer key `n`, otherwise
 * its hash bucket `-1 - (crc32(key) mod HASH_BUCKETS)`. Never throws: every key has a chunk
 * (callers validate `chunkSize`, a positive integer).
 */
export function chunkOfKey(key: string, chunkSize: number): number {
  if (isRangeKey(key)) return Math.floor(Number(key) / chunkSize);
  return -1 - ((crc32(key) >>> 0) % HASH_BUCKETS);
}

/** Whether a chunk index is a hash bucket (keys that are not unsigned integers). */
export function isHashBucket(chunk: number): boolean {
  return chunk < 0 && chunk >= -HASH_BUCKETS;
}
