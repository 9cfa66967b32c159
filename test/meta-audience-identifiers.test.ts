/** Meta's normalisation rules per identifier key, and what leaves the process: only lowercase SHA-256 hex. */
import { createHash } from 'node:crypto';
import {
  hashIdentifier,
  normaliseIdentifier,
  splitDateOfBirth,
  type IdentifierType,
} from '../connectors/destinations/meta-audience-identifiers';
import { metaAudienceConnector } from '../connectors/destinations/meta-audience-destination';

const normalised = (type: IdentifierType, raw: unknown) => {
  const n = normaliseIdentifier(type, raw);
  return n.ok ? n.value : null;
};

test.each([
  ['EMAIL', '  Jane.Doe@Example.COM ', 'jane.doe@example.com'],
  ['EMAIL', 'not-an-email', null],
  ['PHONE', '+1 (650) 555-1234', '16505551234'],
  ['PHONE', '0044 20 7946 0958', '442079460958'],
  ['PHONE', '12', null],
  ['PHONE', 4915112345678, '4915112345678'],
  ['FN', ' Mary-Ann ', 'maryann'],
  ['LN', "O'Brien", 'obrien'],
  ['FN', 'Élodie', 'élodie'],
  ['FI', 'Jane', 'j'],
  ['CT', 'San Francisco', 'sanfrancisco'],
  ['ST', 'California', 'ca'],
  ['ST', 'TX', 'tx'],
  ['ST', 'Île-de-France', 'îledefrance'],
  ['ZIP', '94103-1234', '94103'],
  ['ZIP', 'SW1A 1AA', 'sw1a1aa'],
  ['COUNTRY', 'US', 'us'],
  ['COUNTRY', 'United States', null],
  ['GEN', 'Female', 'f'],
  ['GEN', 'x', null],
  ['DOBY', '1984', '1984'],
  ['DOBY', '1850', null],
  ['DOBM', '3', '03'],
  ['DOBM', '13', null],
  ['DOBD', 9, '09'],
  ['EXTERN_ID', '  cust-42 ', 'cust-42'],
] as Array<[IdentifierType, unknown, string | null]>)('%s %p is normalised to %p', (type, raw, expected) => {
  expect(normalised(type, raw)).toBe(expected);
});

test('a hash is the lowercase SHA-256 hex of the normalised value, so differently written emails hash alike', () => {
  const expected = createHash('sha256').update('jane.doe@example.com').digest('hex');
  expect(hashIdentifier('EMAIL', ' JANE.DOE@example.com')).toEqual({ ok: true, hash: expected });
  expect(hashIdentifier('EMAIL', 'jane.doe@example.com')).toEqual({ ok: true, hash: expected });
  expect(expected).toMatch(/^[0-9a-f]{64}$/);
});

test('a date of birth column splits into year, month and day', () => {
  expect(splitDateOfBirth('1984-03-09')).toEqual({ DOBY: '1984', DOBM: '03', DOBD: '09' });
  expect(splitDateOfBirth(new Date(Date.UTC(1990, 11, 31)))).toEqual({ DOBY: '1990', DOBM: '12', DOBD: '31' });
  expect(splitDateOfBirth('March 9')).toBeNull();
});

const syncOptions = (identifiers: Record<string, string>, extra: Record<string, unknown> = {}) =>
  metaAudienceConnector.syncOptionsSchema.safeParse({ audienceId: '23851234567890123', identifiers, ...extra });

test('a sync mapping MADID is refused with the reason, and two columns for one key are named', () => {
  const madid = syncOptions({ device: 'MADID' });
  expect(madid.success).toBe(false);
  expect(JSON.stringify(madid.error?.issues)).toContain('MADID is not supported');
  const twice = syncOptions({ email: 'EMAIL', work_email: 'EMAIL' });
  expect(JSON.stringify(twice.error?.issues)).toContain('columns email and work_email both give EMAIL');
  expect(syncOptions({ email: 'EMAIL' }, { audienceId: 2385123456 }).success).toBe(false);
});

test('prepare stores only hashes and names the column and rule of a value it cannot use, never the value', () => {
  const destination = metaAudienceConnector.create({
    connection: { type: 'meta-audiences', accessToken: 't', apiVersion: 'v24.0' },
    sync: {
      id: 'customers-to-meta',
      primaryKey: 'customer_id',
      audienceId: '1',
      mode: 'add',
      identifiers: { email: 'EMAIL', phone: 'PHONE', birthday: 'DOB' },
    },
  });
  const { payload } = destination.prepare({
    customer_id: 7,
    email: 'Jane@Example.com',
    phone: null,
    birthday: '1984-03-09',
  });
  expect(Object.keys(payload)).toEqual(['EMAIL', 'DOBY', 'DOBM', 'DOBD']);
  for (const hash of Object.values(payload)) expect(hash).toMatch(/^[0-9a-f]{64}$/);
  expect(JSON.stringify(payload)).not.toContain('jane');

  expect(() => destination.prepare({ customer_id: 8, email: 'jane(at)example.com', phone: null })).toThrow(
    /column email \(EMAIL\) does not hold an email address .* the value is not repeated here/,
  );
  try {
    destination.prepare({ customer_id: 8, email: 'jane(at)example.com' });
  } catch (error) {
    expect((error as Error).message).not.toContain('jane');
  }
  expect(() => destination.prepare({ customer_id: 9, email: ' ', phone: null })).toThrow(
    'the row has no identifier: email, phone, birthday are all empty',
  );
});
