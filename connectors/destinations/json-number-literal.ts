/**
 * JSON with exact number literals. A warehouse decimal that a double cannot hold reaches a
 * destination as decimal text (connectors/sources/exact-values.ts); APIs that take a JSON number
 * for a numeric field (Salesforce) must receive those digits as a number literal, which
 * JSON.stringify cannot write from a string.
 *
 *   stringifyExact({ MRR__c: new JsonNumberLiteral('12345678901234567890.1234567891') })
 *   // '{"MRR__c":12345678901234567890.1234567891}'
 */
import { randomBytes } from 'node:crypto';

// A per-process nonce, so that no string coming from a row can be mistaken for a marker.
const MARKER = `\u0000ebb-number-${randomBytes(6).toString('hex')}:`;
// JSON number grammar without exponent: no leading zeros, so the text is a valid literal as it stands.
const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/;
const MARKED = new RegExp(`"\\\\u0000${MARKER.slice(1)}(-?\\d+(?:\\.\\d+)?)"`, 'g');

export class JsonNumberLiteral {
  constructor(readonly text: string) {
    if (!DECIMAL.test(text)) throw new TypeError(`'${text}' is not a decimal number`);
  }
  toJSON(): string {
    return `${MARKER}${this.text}`;
  }
}

export function stringifyExact(value: unknown): string {
  return JSON.stringify(value).replace(MARKED, '$1');
}

/** Decimal text, as sources give the numbers a double cannot hold exactly. */
export function isDecimalText(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value);
}
