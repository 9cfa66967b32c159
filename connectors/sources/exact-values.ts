/**
 * Exact numbers (DESIGN.md invariant 7): a warehouse value becomes a JS number only when a double
 * holds it exactly; otherwise it stays decimal text, which every destination can write exactly
 * (Salesforce as a JSON number literal, Slack as text).
 *
 *   exactDecimal('900.00')                          // 900
 *   exactDecimal('12345678901234567890.1234567891') // '12345678901234567890.1234567891'
 *   exactInteger(2n ** 70n)                         // '1180591620717411303424'
 */
const DECIMAL_TEXT = /^([+-])?(\d*)(?:\.(\d*))?$/;

/** Canonical decimal text: no leading '+', no superfluous zeros, '-0' as '0'; undefined when not decimal text. */
export function canonicalDecimal(text: string): string | undefined {
  const match = DECIMAL_TEXT.exec(text.trim());
  if (!match) return undefined;
  const [, sign = '', whole = '', fraction = ''] = match;
  if (whole === '' && fraction === '') return undefined;
  const intPart = whole.replace(/^0+(?=\d)/, '') || '0';
  const fracPart = fraction.replace(/0+$/, '');
  const body = fracPart ? `${intPart}.${fracPart}` : intPart;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}

/** A decimal's text as a number when the double prints back to the same digits, else as canonical text. */
export function exactDecimal(text: string): number | string {
  const canonical = canonicalDecimal(text);
  if (canonical === undefined) return text;
  const asNumber = Number(canonical);
  return Number.isFinite(asNumber) && String(asNumber) === canonical ? asNumber : canonical;
}

export function exactInteger(value: bigint | string): number | string {
  const big = typeof value === 'bigint' ? value : BigInt(value);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big)
    : big.toString();
}
