/**
 * DynamoDB stream records (as a Lambda or an EventBridge Pipe receives them, attribute values
 * in DynamoDB JSON) -> plain records for the capture domain. Numbers stay exact: an integer
 * within the safe range becomes a number, anything else its decimal string.
 */
import type { ServiceStreamRecord } from '../domain/capture.js';

type AttributeValue = Record<string, unknown>;

export function fromAttributeValue(av: AttributeValue): unknown {
  if ('S' in av) return av['S'];
  if ('N' in av) {
    const s = String(av['N']);
    const n = Number(s);
    return Number.isSafeInteger(n) || (Number.isFinite(n) && String(n) === s) ? n : s;
  }
  if ('BOOL' in av) return Boolean(av['BOOL']);
  if ('NULL' in av) return null;
  if ('M' in av) return unmarshallImage(av['M'] as Record<string, AttributeValue>);
  if ('L' in av) return (av['L'] as AttributeValue[]).map(fromAttributeValue);
  if ('SS' in av) return new Set(av['SS'] as string[]);
  if ('NS' in av) return new Set((av['NS'] as string[]).map(Number));
  if ('B' in av) return av['B'];
  throw new Error(`unsupported attribute value type ${Object.keys(av).join(',')}`);
}

export function unmarshallImage(
  image: Record<string, AttributeValue> | undefined,
): Record<string, unknown> | undefined {
  if (!image) return undefined;
  return Object.fromEntries(Object.entries(image).map(([k, v]) => [k, fromAttributeValue(v)]));
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
