/**
 * PostgreSQL text output -> the values every source yields (source.ts, DESIGN.md invariant 7).
 *
 *   const parse = postgresTypeParser(1700);   // numeric
 *   parse('900.00');                          // 900
 *   postgresTypeParser(1184)('2026-01-02 03:04:05.123456+00');   // '2026-01-02T03:04:05.123456Z'
 *
 * The parsers are handed to pg per query (`types: { getTypeParser }`), never installed globally, so
 * other pg users in the process keep pg's defaults. They expect the session settings pinned by
 * `SESSION_SETTINGS` (UTC, ISO dates, hex bytea): the source sets them in every transaction, so a
 * server's or role's own defaults cannot change the values, and with them the row hashes.
 */
import { isSafeNumber, parse as parseLosslessJson } from 'lossless-json';
import { exactDecimal, exactInteger } from '../exact-values';

/** Session settings the parsers rely on, set with `set_config(name, value, is_local => true)`. */
export const SESSION_SETTINGS: ReadonlyArray<readonly [name: string, value: string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'iso_8601'],
  ['bytea_output', 'hex'],
  // PostgreSQL 12+ default: the shortest text that reads back as the same float.
  ['extra_float_digits', '1'],
];

type TextParser = (text: string) => unknown;

const asText: TextParser = (text) => text;
const asNumber: TextParser = (text) => Number(text);
const asBoolean: TextParser = (text) => text === 't';
/** NaN and ±Infinity have no JSON number, so they stay text ('NaN', 'Infinity'). */
const asFloat: TextParser = (text) => {
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
};
/** Hex text without pg's `\x` prefix: '\x0102' -> '0102', the same form other sources give for binary. */
const asHex: TextParser = (text) => (text.startsWith('\\x') ? text.slice(2) : text);
const asJson: TextParser = (text) => parseLosslessJson(text, null, jsonNumber);

/** A JSON number a double cannot hold exactly (a bigint id inside jsonb) keeps its digits as text. */
function jsonNumber(text: string): unknown {
  return isSafeNumber(text) ? Number(text) : exactDecimal(text);
}

const TIMESTAMP =
  /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?$/;

/**
 * '2026-01-02 03:04:05.123456+00' -> '2026-01-02T03:04:05.123456Z'. Milliseconds are always
 * written and microseconds when present, as the DuckDB source does, so one instant is one string
 * whatever the warehouse. Values a Date cannot express (BC, year 10000+, infinity) stay pg's text.
 */
const asTimestamp: TextParser = (text) => {
  const match = TIMESTAMP.exec(text);
  if (!match) return text;
  const [, year, month, day, hour, minute, second, fraction = '', sign, offsetH, offsetM, offsetS] = match;
  const micros = fraction.padEnd(6, '0');
  const subsecond = micros.endsWith('000') ? micros.slice(0, 3) : micros;
  const local = `${year}-${month}-${day}T${hour}:${minute}:${second}.${subsecond}`;
  const offsetSeconds =
    sign === undefined ? 0 : Number(offsetH) * 3600 + Number(offsetM ?? 0) * 60 + Number(offsetS ?? 0);
  if (offsetSeconds === 0) return `${local}Z`;
  // Only reached if TimeZone was not UTC after all; shift through Date, keeping the sub-millisecond digits.
  const millis = Date.parse(`${local.slice(0, 23)}Z`) - (sign === '-' ? -1 : 1) * offsetSeconds * 1000;
  return `${new Date(millis).toISOString().slice(0, 23)}${subsecond.slice(3)}Z`;
};

/** Scalar types by OID (pg_type.oid; stable across servers for built-in types). */
const SCALAR_PARSERS = new Map<number, TextParser>([
  [16, asBoolean], // bool
  [17, asHex], // bytea
  [20, (text) => exactInteger(text)], // int8
  [21, asNumber], // int2
  [23, asNumber], // int4
  [26, asNumber], // oid
  [114, asJson], // json
  [700, asFloat], // float4
  [701, asFloat], // float8
  [1082, asText], // date: already 'YYYY-MM-DD' under DateStyle ISO; never a JS Date, so no zone shift
  [1083, asText], // time
  [1114, asTimestamp], // timestamp: read as UTC
  [1184, asTimestamp], // timestamptz
  [1186, asText], // interval, ISO 8601 ('P1DT2H') under IntervalStyle iso_8601
  [1266, asText], // timetz
  [1700, (text) => exactDecimal(text)], // numeric: never through a double
  [2950, asText], // uuid
  [3802, asJson], // jsonb
]);

/** Array type OID -> element type OID, for the element types above plus the text-like ones. */
const ARRAY_ELEMENTS = new Map<number, number>([
  [1000, 16],
  [1001, 17],
  [1016, 20],
  [1005, 21],
  [1007, 23],
  [1028, 26],
  [199, 114],
  [1021, 700],
  [1022, 701],
  [1182, 1082],
  [1183, 1083],
  [1115, 1114],
  [1185, 1184],
  [1187, 1186],
  [1270, 1266],
  [1231, 1700],
  [2951, 2950],
  [3807, 3802],
  [1009, 25], // text
  [1015, 1043], // varchar
  [1014, 1042], // bpchar
  [1002, 18], // char
  [1003, 19], // name
]);

/**
 * The parser for one column type; types not listed (text, varchar, enums, user types) keep pg's text,
 * as do arrays of types not listed (e.g. an enum[] arrives as '{a,b}').
 */
export function postgresTypeParser(oid: number): TextParser {
  const scalar = SCALAR_PARSERS.get(oid);
  if (scalar) return scalar;
  const element = ARRAY_ELEMENTS.get(oid);
  if (element !== undefined) {
    const parseElement = SCALAR_PARSERS.get(element) ?? asText;
    return (text) => parseArrayLiteral(text, parseElement);
  }
  return asText;
}

/**
 * Parses an array literal ('{1,NULL,"a,b"}', '{{1,2},{3,4}}', '[0:1]={1,2}') into nested JS arrays,
 * unquoting elements and passing each non-NULL one to `parseElement`.
 */
export function parseArrayLiteral(text: string, parseElement: TextParser): unknown {
  // Arrays whose lower bound is not 1 carry their bounds first; a JS array starts at 0 anyway.
  const start = text.startsWith('[') ? text.indexOf('=') + 1 : 0;
  let position = start;

  const parseLevel = (): unknown[] => {
    const items: unknown[] = [];
    position++; // '{'
    if (text[position] === '}') {
      position++;
      return items;
    }
    for (;;) {
      if (text[position] === '{') {
        items.push(parseLevel());
      } else if (text[position] === '"') {
        let value = '';
        position++;
        while (position < text.length && text[position] !== '"') {
          if (text[position] === '\\') position++;
          value += text[position] ?? '';
          position++;
        }
        position++;
        items.push(parseElement(value));
      } else {
        let end = position;
        while (end < text.length && text[end] !== ',' && text[end] !== '}') end++;
        const raw = text.slice(position, end);
        position = end;
        items.push(raw === 'NULL' ? null : parseElement(raw));
      }
      const separator = text[position];
      position++;
      if (separator === '}') return items;
      if (separator !== ',') throw new SyntaxError('malformed array literal');
    }
  };

  if (text[position] !== '{') return text;
  try {
    return parseLevel();
  } catch {
    // Runs inside pg's message handler, where a throw would break the connection: keep pg's text.
    return text;
  }
}
