/**
 * {@link ObjectStore} in memory, for the locally executed state machines (tests and `cutover rehearse`) (the real adapter is
 * lambdas/adapters/s3-objects.ts): the same keys, prefixes and folder listing as S3 with `/` as
 * the delimiter.
 */
import type { ArchiveStorePort } from '../../lambdas/domain/archive.js';
import type { ObjectStore } from '../../lambdas/domain/ports.js';

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, string>();

  constructor(readonly bucket = 'validation-bucket') {}

  async put(key: string, body: string): Promise<void> {
    this.objects.set(key, body);
  }

  async get(key: string): Promise<string> {
    const body = this.objects.get(key);
    if (body === undefined) throw new Error(`NoSuchKey: ${key}`);
    return body;
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async listFolders(prefix: string): Promise<string[]> {
    const folders = new Set<string>();
    for (const k of this.objects.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash >= 0) folders.add(prefix + rest.slice(0, slash + 1));
    }
    return [...folders].sort();
  }

  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}

/** {@link ArchiveStorePort} in memory: the archive's objects as they would be put to S3. */
export class MemoryArchiveStore implements ArchiveStorePort {
  readonly objects = new Map<string, { body: Uint8Array; contentType: string; contentEncoding?: string }>();
  async put(key: string, body: Uint8Array, contentType: string, contentEncoding?: string): Promise<void> {
    this.objects.set(key, { body, contentType, ...(contentEncoding ? { contentEncoding } : {}) });
  }
}
