/**
 * Meta customer-list identifiers: each key's normalisation and its SHA-256 hash, as Meta's Marketing
 * API documents them for Custom Audiences ("Hashing and normalizing data"). Only hashes leave this
 * module; a value that cannot be normalised is reported by column and rule, never by its content.
 *
 *   normaliseIdentifier('EMAIL', '  Jane.Doe@Example.COM ') // { ok: true, value: 'jane.doe@example.com' }
 *   hashIdentifier('EMAIL', 'Jane@Example.com')              // { ok: true, hash: sha256('jane@example.com') }
 */
import { createHash } from 'node:crypto';

/** Meta's schema keys ebb sends, all hashed. `DOB` is ebb's: a date column that becomes DOBY, DOBM and DOBD. */
export const IDENTIFIER_TYPES = [
  'EMAIL',
  'PHONE',
  'FN',
  'LN',
  'FI',
  'GEN',
  'DOBY',
  'DOBM',
  'DOBD',
  'CT',
  'ST',
  'ZIP',
  'COUNTRY',
  'EXTERN_ID',
] as const;
export type IdentifierType = (typeof IDENTIFIER_TYPES)[number];
export type MappedIdentifier = IdentifierType | 'DOB';

/** What each key must look like after normalisation: used in messages about a value that does not fit. */
export const IDENTIFIER_RULES: Record<IdentifierType, string> = {
  EMAIL: 'an email address (text@domain), trimmed and lowercased',
  PHONE: 'digits with the country code (e.g. 16505551234), no symbols or leading zeros, 7 to 15 digits',
  FN: 'a first name: lowercase letters, no punctuation or spaces',
  LN: 'a last name: lowercase letters, no punctuation or spaces',
  FI: "a first name's initial: one lowercase letter",
  GEN: 'm or f (male/female accepted)',
  DOBY: 'a year of birth YYYY from 1900 to this year',
  DOBM: 'a month of birth 01 to 12',
  DOBD: 'a day of birth 01 to 31',
  CT: 'a city: lowercase letters only, no punctuation or spaces',
  ST: 'a state: the 2-letter ANSI code for US states, otherwise lowercase letters and digits only',
  ZIP: 'a postal code: lowercase, no spaces; US codes as their first 5 digits',
  COUNTRY: 'a 2-letter ISO 3166-1 alpha-2 country code',
  EXTERN_ID: 'your own id for the person, any non-empty text (trimmed)',
};

// prettier-ignore
const US_STATES: Record<string, string> = {
  alabama: 'al', alaska: 'ak', arizona: 'az', arkansas: 'ar', california: 'ca', colorado: 'co',
  connecticut: 'ct', delaware: 'de', districtofcolumbia: 'dc', florida: 'fl', georgia: 'ga',
  hawaii: 'hi', idaho: 'id', illinois: 'il', indiana: 'in', iowa: 'ia', kansas: 'ks', kentucky: 'ky',
  louisiana: 'la', maine: 'me', maryland: 'md', massachusetts: 'ma', michigan: 'mi', minnesota: 'mn',
  mississippi: 'ms', missouri: 'mo', montana: 'mt', nebraska: 'ne', nevada: 'nv', newhampshire: 'nh',
  newjersey: 'nj', newmexico: 'nm', newyork: 'ny', northcarolina: 'nc', northdakota: 'nd', ohio: 'oh',
  oklahoma: 'ok', oregon: 'or', pennsylvania: 'pa', rhodeisland: 'ri', southcarolina: 'sc',
  southdakota: 'sd', tennessee: 'tn', texas: 'tx', utah: 'ut', vermont: 'vt', virginia: 'va',
  washington: 'wa', westvirginia: 'wv', wisconsin: 'wi', wyoming: 'wy', puertorico: 'pr',
};

export type Normalised = { ok: true; value: string } | { ok: false };

const lettersOnly = (text: string) => text.replace(/[^\p{L}]/gu, '');

/** Text form of a warehouse value: dates as ISO dates, numbers without exponent quirks for ids and phones. */
function textOf(value: unknown): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'bigint') return value.toString();
  return String(value);
}

/** Meta's normalisation of one key's value; `{ ok: false }` when the value cannot be that key. */
export function normaliseIdentifier(type: IdentifierType, raw: unknown): Normalised {
  const text = textOf(raw).normalize('NFC').trim();
  const ok = (value: string): Normalised => (value === '' ? { ok: false } : { ok: true, value });
  switch (type) {
    case 'EMAIL': {
      const email = text.toLowerCase();
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? ok(email) : { ok: false };
    }
    case 'PHONE': {
      const digits = text.replace(/\D/g, '').replace(/^0+/, '');
      return digits.length >= 7 && digits.length <= 15 ? ok(digits) : { ok: false };
    }
    case 'FN':
    case 'LN':
    case 'CT':
      return ok(lettersOnly(text.toLowerCase()));
    case 'FI':
      return ok(lettersOnly(text.toLowerCase()).slice(0, 1));
    case 'GEN': {
      const gender = text.toLowerCase();
      if (gender === 'm' || gender === 'male') return ok('m');
      if (gender === 'f' || gender === 'female') return ok('f');
      return { ok: false };
    }
    case 'DOBY': {
      const year = Number(text);
      return /^\d{4}$/.test(text) && year >= 1900 && year <= new Date().getUTCFullYear() ? ok(text) : { ok: false };
    }
    case 'DOBM':
    case 'DOBD': {
      const n = Number(text);
      const max = type === 'DOBM' ? 12 : 31;
      return /^\d{1,2}$/.test(text) && n >= 1 && n <= max ? ok(String(n).padStart(2, '0')) : { ok: false };
    }
    case 'ST': {
      const state = text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
      return ok(US_STATES[state] ?? state);
    }
    case 'ZIP': {
      const zip = text.toLowerCase().replace(/\s/g, '');
      const us = /^(\d{5})(-?\d{4})?$/.exec(zip);
      return ok(us ? (us[1] as string) : zip);
    }
    case 'COUNTRY': {
      const country = text.toLowerCase();
      return /^[a-z]{2}$/.test(country) ? ok(country) : { ok: false };
    }
    case 'EXTERN_ID':
      return ok(text);
  }
}

/** SHA-256 of the UTF-8 text, lowercase hex: the form Meta compares with its own hashes. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export type Hashed = { ok: true; hash: string } | { ok: false };

export function hashIdentifier(type: IdentifierType, raw: unknown): Hashed {
  const normalised = normaliseIdentifier(type, raw);
  return normalised.ok ? { ok: true, hash: sha256Hex(normalised.value) } : { ok: false };
}

/** A date of birth (a date, or text YYYY-MM-DD) as its three Meta keys; null when it is not one. */
export function splitDateOfBirth(raw: unknown): { DOBY: string; DOBM: string; DOBD: string } | null {
  const match = /^(\d{4})-(\d{1,2})-(\d{1,2})/.exec(textOf(raw).trim());
  if (!match) return null;
  const [, y, m, d] = match as unknown as [string, string, string, string];
  return { DOBY: y, DOBM: m, DOBD: d };
}

/** True for text already in hashed form: 64 lowercase hex digits. */
export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}
