/**
 * Record ids shaped like Salesforce's: a 3-character key prefix, 12 base-62 characters, then the
 * 3-character case-safe suffix Salesforce appends to turn a 15-character id into an 18-character
 * one (each suffix character encodes which of 5 characters are upper case).
 */
const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const suffixAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** An 18-character id for the n-th record (n >= 1) with this key prefix. */
export function salesforceId(keyPrefix: string, n: number): string {
  let counter = '';
  let rest = n;
  while (rest > 0) {
    counter = base62[rest % 62] + counter;
    rest = Math.floor(rest / 62);
  }
  // '5g' mimics the instance (pod) characters real ids carry after the key prefix.
  const id15 = `${keyPrefix}5g${counter.padStart(10, '0')}`;
  return id15 + caseSafeSuffix(id15);
}

export function caseSafeSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15[chunk * 5 + i] ?? '';
      if (c >= 'A' && c <= 'Z') flags |= 1 << i;
    }
    suffix += suffixAlphabet[flags];
  }
  return suffix;
}

/** True for a well-formed 15- or 18-character id (18 with a matching suffix). */
export function isWellFormedId(id: string): boolean {
  if (!/^[0-9A-Za-z]{15}([0-9A-Z]{3})?$/.test(id)) return false;
  return id.length === 15 || caseSafeSuffix(id.slice(0, 15)) === id.slice(15);
}
