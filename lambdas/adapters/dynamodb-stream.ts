/**
 * DynamoDB stream records (as a Lambda or an EventBridge Pipe receives them, attribute values
 * in DynamoDB JSON) -> plain records for the capture domain, by the one unmarshaller
 * (dynamodb-values.ts: numbers stay exact, a number a double cannot hold its decimal string).
 */
import type { ServiceStreamRecord } from '../domain/capture.js';
import { type AttributeValueJson, unmarshallItem } from './dynamodb-values.js';

type AttributeValue = AttributeValueJson;

/** A stream image (or the keys) as plain values; undefined when the record has none. */
export function unmarshallImage(
  image: Record<string, AttributeValue> | undefined,
): Record<string, unknown> | undefined {
  return image ? unmarshallItem(image) : undefined;
}

/** The shape of one stream record (a subset of aws-lambda's DynamoDBRecord). */
export interface RawStreamRecord {
  /** The stream record's id (kept with a record the capture dead-letters). */
  readonly eventID?: string;
  readonly eventName?: string;
  readonly eventSourceARN?: string;
  readonly dynamodb?: {
    readonly Keys?: Record<string, AttributeValue>;
    readonly NewImage?: Record<string, AttributeValue>;
    readonly OldImage?: Record<string, AttributeValue>;
    readonly ApproximateCreationDateTime?: number;
  };
}

/** Table name from `arn:aws:dynamodb:region:account:table/<name>/stream/<label>`. */
export function tableNameOf(arn: string | undefined): string {
  const m = /:table\/([^/]+)/.exec(arn ?? '');
  if (!m) throw new Error('stream record without a table ARN');
  return m[1]!;
}

export function toServiceStreamRecord(raw: RawStreamRecord): ServiceStreamRecord {
  const name = raw.eventName;
  if (name !== 'INSERT' && name !== 'MODIFY' && name !== 'REMOVE')
    throw new Error(`unknown eventName ${name}`);
  const d = raw.dynamodb ?? {};
  const newImage = unmarshallImage(d.NewImage);
  const oldImage = unmarshallImage(d.OldImage);
  return {
    eventName: name,
    tableName: tableNameOf(raw.eventSourceARN),
    keys: unmarshallImage(d.Keys) ?? {},
    ...(newImage ? { newImage } : {}),
    ...(oldImage ? { oldImage } : {}),
    // Seconds in the stream record.
    approximateAt: Math.round(Number(d.ApproximateCreationDateTime ?? Date.now() / 1000) * 1000),
  };
}
