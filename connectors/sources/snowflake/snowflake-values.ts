/**
 * Snowflake values as the driver hands them over (NUMBER and VARIANT as text, see
 * snowflake-driver.ts) converted to the source conventions in ../source.ts.
 *
 *   NUMBER(38,0) '9007199254740993'   -> '9007199254740993'   (a number when a double holds it)
 *   NUMBER(38,10) '1.5000000000'      -> 1.5
 *   TIMESTAMP_*  SfDate               -> '2026-01-02T03:04:05.123456Z'
 *   DATE         SfDate               -> '2026-01-02'
 *   VARIANT      '{"n": 1e400}'       -> { n: '1e400' }    (numbers kept exact, as text if needed)
 *   BINARY       Buffer               -> 'cafe'
 */
import { parse as parseLosslessJson } from 'lossless-json';
import { exactDecimal, exactInteger } from '../exact-values';
import type { DriverColumn } from './snowflake-driver';

export type ValueConverter = (value: unknown) => unknown;

/** Snowflake's own type name for describe(), e.g. NUMBER(38,10), TIMESTAMP_NTZ, VARCHAR. */
export function snowflakeTypeName(column: DriverColumn): string {
  const type = column.getType();
  if (type === 'fixed') return `NUMBER(${column.getPrecision() ?? 38},${column.getScale() ?? 0})`;
  if (type === 'real') return 'FLOAT';
  if (type === 'text') return 'VARCHAR';
  return type.toUpperCase();
}

export function converterFor(column: DriverColumn): ValueConverter {
  const nullable =
    (convert: ValueConverter): ValueConverter =>
    (value) =>
      value === null || value === undefined ? null : convert(value);
  switch (column.getType()) {
    case 'fixed':
      return (column.getScale() ?? 0) === 0
        ? nullable((value) => exactInteger(String(value)))
        : nullable((value) => exactDecimal(String(value)));
    case 'real':
      return nullable((value) => {
        const number = Number(value);
        return Number.isFinite(number) ? number : String(value);
      });
    case 'date':
      return nullable((value) => isoInstant(value).slice(0, 10));
    case 'timestamp_ntz':
    case 'timestamp_ltz':
    case 'timestamp_tz':
      return nullable(isoInstant);
    case 'variant':
    case 'object':
    case 'array':
    case 'map':
      return nullable((value) => (typeof value === 'string' ? parseExactJson(value) : value));
    case 'binary':
      return nullable((value) => (Buffer.isBuffer(value) ? value.toString('hex') : String(value)));
    case 'boolean':
      return nullable((value) => value === true || value === 'true' || value === 'TRUE' || value === '1');
    default:
      return nullable((value) => (typeof value === 'string' ? value : String(value)));
  }
}

interface SfDate {
  getEpochSeconds(): number;
  getNanoSeconds(): number;
}

function isSfDate(value: unknown): value is SfDate {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<SfDate>).getEpochSeconds === 'function' &&
    typeof (value as Partial<SfDate>).getNanoSeconds === 'function'
  );
}

/**
 * ISO 8601 in UTC from the driver's SfDate (epoch seconds + nanoseconds, whatever the column's time
 * zone), keeping digits beyond milliseconds when they are not zero, as the DuckDB source does.
 */
function isoInstant(value: unknown): string {
  if (!isSfDate(value)) return value instanceof Date ? value.toISOString() : String(value);
  const base = new Date(value.getEpochSeconds() * 1000).toISOString().slice(0, 19);
  const nanos = Math.round(value.getNanoSeconds()).toString().padStart(9, '0');
  const fraction = nanos.replace(/0+$/, '').padEnd(3, '0');
  return `${base}.${fraction}Z`;
}

/** JSON whose numbers stay exact: a number when a double holds it, else its decimal text. */
function parseExactJson(text: string): unknown {
  return parseLosslessJson(text, null, (digits) => exactDecimal(digits));
}
