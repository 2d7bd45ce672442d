/**
 * DynamoDB attribute values (DynamoDB JSON: `{ "S": … }`, `{ "N": … }`, …) -> plain values: the
 * one unmarshaller of the functions. Stream records (dynamodb-stream.ts), the consistency scan's
 * raw items (dynamodb-service.ts) and the document client's reads ({@link UNMARSHALL_OPTIONS})
 * all convert the same way, so a value reads the same whichever way it arrives.
 *
 * The rule for numbers ({@link numberOf}): DynamoDB keeps up to 38 significant digits, a JS
 * number about 15–17. An `N` becomes a number only when the number is exactly the value written,
 * read back the same (`String(Number(n))` is the same decimal) and within ±(2^53 − 1); anything
 * else (a big integer such as `12345678901234567890`, a decimal with more digits than a double
 * holds) stays its decimal string as stored, never a rounded number. Strings, not BigInt: a field
 * of the spec reads them (values.ts) and they survive JSON.
 *
 * No AWS SDK here (the stream enrichment bundles none): sets are `Set`s, `B` is kept as it comes
 * (base64 text in a stream record, bytes from the SDK), as `@aws-sdk/util-dynamodb`'s `unmarshall`
 * does.
 */

/** One attribute value in DynamoDB JSON (exactly one of its keys is set). */
export type AttributeValueJson = Readonly<Record<string, unknown>>;

/**
 * A decimal's digits and exponent without sign, leading or trailing zeros: `19.990000` and
 * `1999e-2` are both `1999|-2`. Undefined for text that is not a decimal.
 */
function decimalKey(text: string): string | undefined {
  const m = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
  const fraction = m[2] ?? '';
  let digits = (m[1] ?? '') + fraction;
  let exponent = Number(m[3] ?? 0) - fraction.length;
  digits = digits.replace(/^0+/, '');
  if (digits === '') return '0';
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  return `${text.trim().startsWith('-') ? '-' : ''}${digits}|${exponent}`;
}

const SHORT_INTEGER = /^-?\d{1,15}$/;

/**
 * A DynamoDB number as a plain value: a JS number when it holds the value exactly (the same
 * decimal read back, within ±(2^53 − 1)), else the decimal string as stored.
 */
export function numberOf(text: string): number | string {
  // The common case at once (the scan reads every item): an integer of up to 15 digits is exact.
  if (SHORT_INTEGER.test(text)) return Number(text);
  const n = Number(text);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) return text;
  const key = decimalKey(text);
  return key !== undefined && key === decimalKey(String(n)) ? n : text;
}

/**
 * What the document client is built with (`DynamoDBDocumentClient.from(…, { unmarshallOptions })`):
 * its reads convert numbers by {@link numberOf}, as {@link unmarshallItem} does.
 */
export const UNMARSHALL_OPTIONS = { wrapNumbers: numberOf } as const;

/**
 * One attribute value as a plain value.
 * @throws TypeError naming the type, for an attribute value of no known type
 */
export function fromAttributeValue(av: AttributeValueJson): unknown {
  if (av['S'] !== undefined) return av['S'];
  if (av['N'] !== undefined) return numberOf(String(av['N']));
  if (av['BOOL'] !== undefined) return Boolean(av['BOOL']);
  if (av['NULL'] !== undefined) return null;
  if (av['M'] !== undefined) return unmarshallItem(av['M'] as Record<string, AttributeValueJson>);
  if (av['L'] !== undefined) return (av['L'] as AttributeValueJson[]).map(fromAttributeValue);
  if (av['SS'] !== undefined) return new Set(av['SS'] as string[]);
  if (av['NS'] !== undefined) return new Set((av['NS'] as string[]).map((n) => numberOf(String(n))));
  if (av['B'] !== undefined) return av['B'];
  if (av['BS'] !== undefined) return new Set(av['BS'] as unknown[]);
  throw new TypeError(`unsupported attribute value type ${Object.keys(av).join(',') || '(none)'}`);
}

/** An item (or an image, or a map's entries) as plain values by {@link fromAttributeValue}. */
export function unmarshallItem(item: Readonly<Record<string, AttributeValueJson>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in item) out[name] = fromAttributeValue(item[name]!);
  return out;
}
