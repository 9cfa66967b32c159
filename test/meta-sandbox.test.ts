/**
 * The Meta sandbox answers as Meta's Marketing API documents: it counts unhashed and un-normalised
 * identifiers as invalid entries, keeps upload sessions, and refuses expired tokens, unknown
 * audiences and over-large payloads with Graph API error bodies. The connector's check and its
 * error mapping are exercised against it here; syncs end to end are in meta-audience-sync.test.ts.
 */
import { createHash } from 'node:crypto';
import { metaAudienceConnector } from '../connectors/destinations/meta-audience-destination';
import { MetaAdAccount, startMetaSandbox, type MetaSandbox } from '../sandbox/meta/meta-sandbox';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let meta: MetaSandbox;
beforeEach(async () => {
  meta = await startMetaSandbox({ people: [{ EMAIL: ' Grace.Hopper@Example.COM ', PHONE: '+1 (650) 555-0101' }] });
});
afterEach(async () => meta.close());

async function users(method: 'POST' | 'DELETE', payload: unknown, extra: Record<string, string> = {}) {
  const response = await fetch(`${meta.url}/v24.0/${meta.audienceId}/users`, {
    method,
    headers: { authorization: `Bearer ${meta.token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ payload: JSON.stringify(payload), ...extra }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('unhashed values, uppercase hex and hashes of un-normalised seeded values are invalid entries; normalised hashes become members', async () => {
  const good = MetaAdAccount.normalisedHash('EMAIL', ' Grace.Hopper@Example.COM ');
  expect(good).toBe(sha256('grace.hopper@example.com'));
  const answer = await users('POST', {
    schema: ['EMAIL', 'PHONE'],
    data: [
      [good, sha256('16505550101')],
      ['grace.hopper@example.com', ''],
      [sha256('Grace.Hopper@Example.COM'), ''],
      [sha256('+1 (650) 555-0101').toUpperCase(), ''],
      ['', ''],
    ],
  });
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ audience_id: meta.audienceId, num_received: 5, num_invalid_entries: 4 });
  expect(Object.values(answer.body.invalid_entry_samples as object)).toEqual([
    'EMAIL is not a SHA-256 hash (64 lowercase hex digits)',
    'EMAIL is the hash of a value that was not normalised',
    'EMAIL is not a SHA-256 hash (64 lowercase hex digits)',
    'row has no values',
  ]);
  expect(meta.members()).toEqual([{ EMAIL: good, PHONE: sha256('16505550101') }]);

  const removed = await users('DELETE', { schema: 'EMAIL', data: [[good]] });
  expect(removed.body).toMatchObject({ num_received: 1, num_invalid_entries: 0 });
  expect(meta.members()).toEqual([]);
});

test('an upload session collects its batches, counts them once when re-sent, and completes on the last batch', async () => {
  const row = (email: string) => [sha256(email)];
  const session = (seq: number, last: boolean) => ({
    session: JSON.stringify({ session_id: 9001, batch_seq: seq, last_batch_flag: last, estimated_num_total: 3 }),
  });
  expect(
    (await users('POST', { schema: ['EMAIL'], data: [row('a@x.io'), row('b@x.io')] }, session(1, false))).body,
  ).toMatchObject({
    session_id: '9001',
    num_received: 2,
  });
  await users('POST', { schema: ['EMAIL'], data: [row('a@x.io'), row('b@x.io')] }, session(1, false));
  expect(meta.sessions()[0]).toMatchObject({ stage: 'in_progress', numReceived: 2 });
  await users('POST', { schema: ['EMAIL'], data: [row('c@x.io')] }, session(2, true));
  expect(meta.sessions()).toEqual([
    expect.objectContaining({
      sessionId: '9001',
      stage: 'completed',
      numReceived: 3,
      estimatedNumTotal: 3,
      batches: [
        expect.objectContaining({ batchSeq: 1, lastBatchFlag: false, numReceived: 2 }),
        expect.objectContaining({ batchSeq: 2, lastBatchFlag: true, numReceived: 1 }),
      ],
    }),
  ]);
  const badSession = await users('POST', { schema: ['EMAIL'], data: [row('d@x.io')] }, { session: '{"session_id":1}' });
  expect(badSession.body).toMatchObject({ error: { code: 100 } });
});

test('more than 10,000 rows, an unknown schema key and an unknown audience are refused with Graph API errors', async () => {
  const many = Array.from({ length: 10_001 }, (_, i) => [sha256(`p${i}@x.io`)]);
  expect((await users('POST', { schema: ['EMAIL'], data: many })).body).toMatchObject({
    error: { code: 100, type: 'OAuthException', message: expect.stringContaining('exceeds 10000 rows') },
  });
  expect((await users('POST', { schema: ['E_MAIL'], data: [] })).body).toMatchObject({ error: { code: 100 } });
  const unknown = await fetch(`${meta.url}/v24.0/123/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${meta.token}` },
    body: new URLSearchParams({ payload: '{"schema":["EMAIL"],"data":[]}' }),
  });
  expect(await unknown.json()).toMatchObject({ error: { code: 100, error_subcode: 33 } });
});

const destination = (overrides: { accessToken?: string; audienceId?: string; primaryKey?: string } = {}) =>
  metaAudienceConnector.create({
    connection: {
      type: 'meta-audiences',
      accessToken: overrides.accessToken ?? meta.token,
      apiUrl: meta.url,
      apiVersion: 'v24.0',
    },
    sync: {
      id: 'people-to-meta',
      destination: 'meta',
      primaryKey: overrides.primaryKey ?? 'customer_id',
      audienceId: overrides.audienceId ?? meta.audienceId,
      mode: 'mirror',
      identifiers: { email: 'EMAIL' },
    },
  });

test('the check names the token setting for an expired token and the audience for an unknown one', async () => {
  meta.injectFaults({ expireToken: true });
  await expect(destination().check()).rejects.toMatchObject({
    name: 'FatalDestinationError',
    message: expect.stringMatching(
      /^the access token in destinations\.meta\.accessToken was refused \(expired, revoked or invalid\): generate a new system user token .*code 190, subcode 463/,
    ),
  });
  const fresh = await startMetaSandbox();
  try {
    await expect(
      metaAudienceConnector
        .create({
          connection: { type: 'meta-audiences', accessToken: fresh.token, apiUrl: fresh.url, apiVersion: 'v24.0' },
          sync: {
            id: 's',
            destination: 'meta',
            primaryKey: 'id',
            audienceId: '42',
            mode: 'add',
            identifiers: { email: 'EMAIL' },
          },
        })
        .check(),
    ).rejects.toThrow(/^syncs\.s\.audienceId: audience 42 does not exist or this token cannot see it/);
  } finally {
    await fresh.close();
  }
});

test('record keys that are personal data are stored as hashes; customer ids stay readable', () => {
  const keyedByEmail = destination({ primaryKey: 'email' });
  expect(keyedByEmail.recordKey?.('Jane@Example.com')).toBe(`sha256:${sha256('Jane@Example.com')}`);
  expect(keyedByEmail.prepare({ email: 'Jane@Example.com' }).key).toBe(`sha256:${sha256('Jane@Example.com')}`);
  expect(destination().recordKey?.('42')).toBe('42');
  // An email in a key column that is not mapped is recognised by its '@'.
  expect(destination().recordKey?.('jane@example.com')).toBe(`sha256:${sha256('jane@example.com')}`);
});

test('throttling codes are transient with the wait Meta advises; a token without ads_management is fatal', async () => {
  meta.injectFaults({ rateLimit: { code: 80003, times: 1, regainMinutes: 2 } });
  const record = {
    key: '1',
    operation: 'upsert' as const,
    destinationId: null,
    hash: 'h',
    payload: destination().prepare({ customer_id: 1, email: 'a@x.io' }).payload,
  };
  const ctx = { syncId: 'people-to-meta', attempt: 1, heartbeat: () => undefined };
  await expect(destination().deliver([record], ctx)).rejects.toMatchObject({
    name: 'TransientDestinationError',
    retryAfterMs: 120_000,
    message: expect.stringContaining('code 80003'),
  });
  expect(await destination().deliver([record], ctx)).toEqual([
    { key: '1', status: 'succeeded', destinationId: `EMAIL:${sha256('a@x.io')}` },
  ]);

  const readOnly = await startMetaSandbox({ token: 'rw', readOnlyTokens: ['ro'] });
  try {
    const ro = metaAudienceConnector.create({
      connection: { type: 'meta-audiences', accessToken: 'ro', apiUrl: readOnly.url, apiVersion: 'v24.0' },
      sync: {
        id: 's',
        destination: 'meta',
        primaryKey: 'id',
        audienceId: readOnly.audienceId,
        mode: 'add',
        identifiers: { email: 'EMAIL' },
      },
    });
    await expect(ro.deliver([record], ctx)).rejects.toMatchObject({
      name: 'FatalDestinationError',
      message: expect.stringContaining('may not change audience'),
    });
  } finally {
    await readOnly.close();
  }
});
