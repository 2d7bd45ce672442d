/**
 * Column values of Debezium change events, decoded by their Kafka Connect schema.
 *
 * Debezium's MySQL connector writes a column as a Connect *literal* type (int16/int32/int64,
 * string, double, boolean, bytes) and, for DECIMAL and the temporal types, a *semantic* type
 * named in the schema (`name`). The JSON value alone does not say what it means: DECIMAL(20,6)
 * 12.5 arrives as the base64 of the big-endian two's-complement unscaled integer 12500000
 * (`"AL68IA=="`) with the scale in `parameters.scale`; a DATETIME(6) as microseconds since the
 * epoch; a DATETIME(0–3) as milliseconds. So the schema decides, and a logical type this module
 * does not know is rejected instead of read as something else.
 *
 * Sources (facts, not links): Debezium `documentation/modules/ROOT/pages/connectors/mysql.adoc`
 * ("Data type mappings": temporal types per `time.precision.mode`, decimal types per
 * `decimal.handling.mode`); `io.debezium.data.VariableScaleDecimal` (struct `{ scale, value }`);
 * Kafka Connect's `Decimal` (unscaled value as `BigInteger.toByteArray()`), `Date` (int32 days),
 * `Time` (int32 milliseconds since midnight) and `Timestamp` (int64 milliseconds).
 *
 * Output forms: decimals as exact decimal strings at the value's own scale (`'-12.500000'`),
 * dates as `YYYY-MM-DD`, instants as ISO-8601 UTC with the unit's digits (`…T14:30:05.123456Z`,
 * no fraction when it is zero), times of day as `HH:MM:SS[.fraction]`. The spec's field types
 * (`normalizeValue`) take these.
 */

/** A Kafka Connect schema as the JSON converter writes it (`schemas.enable=true`). */
export interface ConnectSchema {
  type: string;
  name?: string;
  optional?: boolean;
  parameters?: Record<string, string>;
  /** Struct members; each has its `field` name. */
  fields?: ConnectSchema[];
  field?: string;
}

/** A value that does not fit its schema, or a type Cutover does not decode. */
export class DebeziumValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DebeziumValueError';
  }
}

/** The schema names this module decodes (and the only ones it accepts). */
export const CONNECT_TYPES = {
  decimal: 'org.apache.kafka.connect.data.Decimal',
  variableScaleDecimal: 'io.debezium.data.VariableScaleDecimal',
  date: 'io.debezium.time.Date',
  time: 'io.debezium.time.Time',
  microTime: 'io.debezium.time.MicroTime',
  nanoTime: 'io.debezium.time.NanoTime',
  timestamp: 'io.debezium.time.Timestamp',
  microTimestamp: 'io.debezium.time.MicroTimestamp',
  nanoTimestamp: 'io.debezium.time.NanoTimestamp',
  zonedTimestamp: 'io.debezium.time.ZonedTimestamp',
  zonedTime: 'io.debezium.time.ZonedTime',
  year: 'io.debezium.time.Year',
  connectDate: 'org.apache.kafka.connect.data.Date',
  connectTime: 'org.apache.kafka.connect.data.Time',
  connectTimestamp: 'org.apache.kafka.connect.data.Timestamp',
} as const;

/** Semantic types whose JSON value already is the plain value (a string). */
const PLAIN_STRING_TYPES = new Set([
  'io.debezium.data.Enum',
  'io.debezium.data.EnumSet',
  'io.debezium.data.Json',
  'io.debezium.data.Xml',
  'io.debezium.data.Uuid',
]);

const ZONED_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const ZONED_TIME = /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Years 0001 … 9999: what an ISO-8601 `YYYY` can say (MySQL's documented range is 1000 … 9999). */
const MIN_EPOCH_SECONDS = -62_135_596_800n;
const MAX_EPOCH_SECONDS = 253_402_300_799n;

/**
 * Decodes one column value by its Connect schema.
 * @throws DebeziumValueError saying why (the caller adds the column's path)
 */
export function decodeConnectValue(schema: ConnectSchema, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const { name } = schema;
  // A literal type (int32, string, double, boolean, …): the JSON value is the value.
  if (name === undefined) return value;
  switch (name) {
    case CONNECT_TYPES.decimal:
      return decimalFromBytes(value, scaleOf(schema));
    case CONNECT_TYPES.variableScaleDecimal: {
      const v = value as { scale?: unknown; value?: unknown };
      if (typeof value !== 'object' || !Number.isSafeInteger(v.scale))
        throw new DebeziumValueError(`(${name}) must be a struct { scale, value }`);
      return decimalFromBytes(v.value, v.scale as number);
    }
    case CONNECT_TYPES.date:
    case CONNECT_TYPES.connectDate:
      return dateOfEpochDays(integer(value, name));
    case CONNECT_TYPES.time:
    case CONNECT_TYPES.connectTime:
      return timeOfDay(integer(value, name), 3);
    case CONNECT_TYPES.microTime:
      return timeOfDay(integer(value, name), 6);
    case CONNECT_TYPES.nanoTime:
      return timeOfDay(integer(value, name), 9);
    case CONNECT_TYPES.timestamp:
    case CONNECT_TYPES.connectTimestamp:
      return instant(integer(value, name), 3);
    case CONNECT_TYPES.microTimestamp:
      return instant(integer(value, name), 6);
    case CONNECT_TYPES.nanoTimestamp:
      return instant(integer(value, name), 9);
    case CONNECT_TYPES.zonedTimestamp:
      if (typeof value !== 'string' || !ZONED_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value)))
        throw new DebeziumValueError(`(${name}) must be an ISO-8601 timestamp with a zone`);
      return value;
    case CONNECT_TYPES.zonedTime:
      if (typeof value !== 'string' || !ZONED_TIME.test(value))
        throw new DebeziumValueError(`(${name}) must be an ISO-8601 time with a zone`);
      return value;
    case CONNECT_TYPES.year:
      return integer(value, name);
    default:
      if (PLAIN_STRING_TYPES.has(name) && typeof value === 'string') return value;
      throw new DebeziumValueError(`has the type ${name}, which Cutover does not decode`);
  }
}

function scaleOf(schema: ConnectSchema): number {
  const raw = schema.parameters?.['scale'];
  if (raw === undefined || !/^-?\d+$/.test(raw))
    throw new DebeziumValueError(`(${schema.name}) has no scale in its schema parameters`);
  return Number(raw);
}

function integer(value: unknown, name: string): number {
  // Above 2^53 JSON.parse has already rounded the number: refuse rather than guess.
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new DebeziumValueError(`(${name}) must be an integer within JSON's exact range (±2^53)`);
  return value;
}

/** Kafka Connect's Decimal: base64 of the unscaled value's big-endian two's complement. */
function decimalFromBytes(value: unknown, scale: number): string {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value))
    throw new DebeziumValueError('must be the base64 bytes of a decimal (decimal.handling.mode=precise)');
  const binary = atob(value);
  let hex = '';
  for (let i = 0; i < binary.length; i++) hex += binary.charCodeAt(i).toString(16).padStart(2, '0');
  let unscaled = BigInt(`0x${hex}`);
  if (binary.charCodeAt(0) & 0x80) unscaled -= 1n << BigInt(binary.length * 8);
  return withScale(unscaled, scale);
}

/** `unscaled × 10^-scale` as an exact decimal string (a negative scale appends zeros). */
export function withScale(unscaled: bigint, scale: number): string {
  const sign = unscaled < 0n ? '-' : '';
  let digits = (unscaled < 0n ? -unscaled : unscaled).toString();
  if (scale <= 0) return sign + (digits === '0' ? digits : digits + '0'.repeat(-scale));
  digits = digits.padStart(scale + 1, '0');
  return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

function dateOfEpochDays(days: number): string {
  const seconds = BigInt(days) * 86_400n;
  if (seconds < MIN_EPOCH_SECONDS || seconds > MAX_EPOCH_SECONDS)
    throw new DebeziumValueError(`date ${days} days from the epoch is outside 0001-01-01 … 9999-12-31`);
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 10);
}

/** `units` of 10^-digits seconds since the epoch → ISO-8601 UTC, exact. */
function instant(units: number, digits: number): string {
  const per = 10n ** BigInt(digits);
  const total = BigInt(units);
  let seconds = total / per;
  let fraction = total % per;
  if (fraction < 0n) {
    // BigInt division truncates toward zero; instants before 1970 need the floor.
    seconds -= 1n;
    fraction += per;
  }
  if (seconds < MIN_EPOCH_SECONDS || seconds > MAX_EPOCH_SECONDS)
    throw new DebeziumValueError(`instant ${units} (10^-${digits} s) is outside the years 0001 … 9999`);
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fractionText(fraction, digits)}Z`;
}

/** `units` of 10^-digits seconds since midnight → `HH:MM:SS[.fraction]`. */
function timeOfDay(units: number, digits: number): string {
  const per = 10n ** BigInt(digits);
  const total = BigInt(units);
  if (total < 0n || total >= 86_400n * per)
    throw new DebeziumValueError(`time ${units} (10^-${digits} s) is not a time of day (00:00 … 24:00)`);
  const seconds = Number(total / per);
  const hms = [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
  return hms + fractionText(total % per, digits);
}

function fractionText(fraction: bigint, digits: number): string {
  return fraction === 0n ? '' : `.${fraction.toString().padStart(digits, '0')}`;
}
