/**
 * {@link ArchiveStorePort} on S3. Each object is sent with its SHA-256 checksum, so S3 rejects a
 * body corrupted in transit and stores the checksum with the object (GetObjectAttributes).
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ArchiveStorePort } from '../domain/archive.js';

export class S3ArchiveStore implements ArchiveStorePort {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = new S3Client({}),
  ) {}

  async put(key: string, body: Uint8Array, contentType: string, contentEncoding?: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ...(contentEncoding ? { ContentEncoding: contentEncoding } : {}),
        ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
      }),
    );
  }
}
