/**
 * {@link ObjectStore} on one S3 bucket (full validation's work lists, partial results and
 * reports). The bucket's default encryption applies to every object; bodies are JSON text.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore } from '../domain/ports.js';

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly bucket: string,
    private readonly client: S3Client = new S3Client({}),
  ) {}

  async put(key: string, body: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
  }

  async get(key: string): Promise<string> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!res.Body) throw new Error(`s3://${this.bucket}/${key} has no body`);
    return res.Body.transformToString('utf-8');
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.listAll(prefix, false)).keys;
  }

  async listFolders(prefix: string): Promise<string[]> {
    return (await this.listAll(prefix, true)).folders;
  }

  location(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  private async listAll(prefix: string, folders: boolean): Promise<{ keys: string[]; folders: string[] }> {
    const out = { keys: [] as string[], folders: [] as string[] };
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(folders ? { Delimiter: '/' } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of res.Contents ?? []) if (o.Key) out.keys.push(o.Key);
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix) out.folders.push(p.Prefix);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}
