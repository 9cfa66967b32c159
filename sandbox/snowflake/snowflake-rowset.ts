/**
 * DuckDB results in Snowflake's JSON result format, the one the Node driver reads: `rowtype`
 * (column metadata) and rows whose every value is a string or null, in the text forms the driver's
 * column converters parse (node_modules/snowflake-sdk/dist/lib/connection/result/column.js):
 *
 *   fixed          decimal text                       '12345678901234567890.1234567891'
 *   real           double text                        '1.5'
 *   boolean        '1' / '0'
 *   date           days since 1970-01-01              '19723'
 *   time           seconds since midnight, scale 9    '3723.123456000'
 *   timestamp_ntz  epoch seconds, scale 9             '1704164645.123456000'
 *   timestamp_tz   epoch seconds, space, offset+1440  '1704164645.123456000 1440'
 *   binary         upper-case hex                     'CAFE'
 *   variant/object/array  JSON text                   '{"a":1}'
 */
import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalType,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

export interface RowType {
  name: string;
  database: string;
  schema: string;
  table: string;
  type: string;
  precision: number | null;
  scale: number | null;
  length: number | null;
  byteLength: number | null;
  nullable: boolean;
  collation: null;
}

export type WireRow = Array<string | null>;

const MAX_TEXT_LENGTH = 16_777_216;
const MAX_BINARY_LENGTH = 8_388_608;

const INTEGER_PRECISION: Partial<Record<DuckDBTypeId, number>> = {
  [DuckDBTypeId.TINYINT]: 3,
  [DuckDBTypeId.UTINYINT]: 3,
  [DuckDBTypeId.SMALLINT]: 5,
  [DuckDBTypeId.USMALLINT]: 5,
  [DuckDBTypeId.INTEGER]: 10,
  [DuckDBTypeId.UINTEGER]: 10,
  [DuckDBTypeId.BIGINT]: 19,
  [DuckDBTypeId.UBIGINT]: 38,
  [DuckDBTypeId.HUGEINT]: 38,
  [DuckDBTypeId.UHUGEINT]: 38,
};

/** The Snowflake column metadata for a DuckDB result column. */
export function rowTypeOf(name: string, type: DuckDBType): RowType {
  const column = (
    snowflakeType: string,
    extra: Partial<Pick<RowType, 'precision' | 'scale' | 'length' | 'byteLength'>> = {},
  ): RowType => ({
    name,
    database: '',
    schema: '',
    table: '',
    type: snowflakeType,
    precision: null,
    scale: null,
    length: null,
    byteLength: null,
    nullable: true,
    collation: null,
    ...extra,
  });
  const integerPrecision = INTEGER_PRECISION[type.typeId];
  if (integerPrecision !== undefined) return column('fixed', { precision: integerPrecision, scale: 0 });
  switch (type.typeId) {
    case DuckDBTypeId.DECIMAL: {
      const decimal = type as DuckDBDecimalType;
      return column('fixed', { precision: decimal.width, scale: decimal.scale });
    }
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return column('real');
    case DuckDBTypeId.BOOLEAN:
      return column('boolean');
    case DuckDBTypeId.DATE:
      return column('date');
    case DuckDBTypeId.TIME:
      return column('time', { scale: 9 });
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return column('timestamp_ntz', { precision: 0, scale: 9 });
    case DuckDBTypeId.TIMESTAMP_TZ:
      return column('timestamp_tz', { precision: 0, scale: 9 });
    case DuckDBTypeId.BLOB:
      return column('binary', { length: MAX_BINARY_LENGTH, byteLength: MAX_BINARY_LENGTH });
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return column('array');
    case DuckDBTypeId.STRUCT:
    case DuckDBTypeId.MAP:
      return column('object');
    case DuckDBTypeId.VARCHAR:
      return type.alias === 'JSON'
        ? column('variant')
        : column('text', { length: MAX_TEXT_LENGTH, byteLength: MAX_TEXT_LENGTH });
    default:
      return column('text', { length: MAX_TEXT_LENGTH, byteLength: MAX_TEXT_LENGTH });
  }
}

/** One DuckDB value in the wire form of its column's Snowflake type. */
export function wireValue(value: DuckDBValue, rowType: RowType): string | null {
  if (value === null) return null;
  switch (rowType.type) {
    case 'boolean':
      return value === true ? '1' : '0';
    case 'date':
      return value instanceof DuckDBDateValue ? String(value.days) : String(value);
    case 'time':
      return value instanceof DuckDBTimeValue ? secondsText(value.micros) : String(value);
    case 'timestamp_ntz':
      return value instanceof DuckDBTimestampValue ? secondsText(value.micros) : timestampText(value);
    case 'timestamp_tz':
      // DuckDB keeps instants in UTC without the writer's offset, so every value carries +00:00.
      return value instanceof DuckDBTimestampTZValue ? `${secondsText(value.micros)} 1440` : String(value);
    case 'binary':
      return value instanceof DuckDBBlobValue ? Buffer.from(value.bytes).toString('hex').toUpperCase() : String(value);
    case 'variant':
      return typeof value === 'string' ? value : jsonText(value);
    case 'array':
    case 'object':
      return jsonText(value);
    default:
      return typeof value === 'string' ? value : String(value);
  }
}

/** Seconds with nine fractional digits from microseconds, as exact decimal text (also negative). */
function secondsText(micros: bigint): string {
  const sign = micros < 0n ? '-' : '';
  const magnitude = micros < 0n ? -micros : micros;
  return `${sign}${magnitude / 1_000_000n}.${(magnitude % 1_000_000n).toString().padStart(6, '0')}000`;
}

/** TIMESTAMP_S/_MS/_NS arrive as other value classes; their micros come from DuckDB's text form. */
function timestampText(value: DuckDBValue): string {
  const millis = Date.parse(`${String(value).replace(' ', 'T')}Z`);
  return Number.isFinite(millis) ? secondsText(BigInt(millis) * 1000n) : String(value);
}

/** JSON text of a nested DuckDB value, numbers written with all their digits. */
function jsonText(value: DuckDBValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) {
    return `[${value.items.map(jsonText).join(',')}]`;
  }
  if (value instanceof DuckDBStructValue) {
    return `{${Object.entries(value.entries)
      .map(([key, entry]) => `${JSON.stringify(key)}:${jsonText(entry)}`)
      .join(',')}}`;
  }
  if (value instanceof DuckDBMapValue) {
    return `{${value.entries.map((entry) => `${JSON.stringify(String(entry.key))}:${jsonText(entry.value)}`).join(',')}}`;
  }
  return JSON.stringify(String(value));
}
