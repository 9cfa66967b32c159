import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from 'jsforce';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { caseSafeSuffix, isWellFormedId } from '../sandbox/salesforce/salesforce-record-ids';

let sf: SalesforceSandbox;

beforeAll(async () => {
  sf = await startSalesforceSandbox();
});
afterAll(async () => {
  await sf.close();
});
beforeEach(() => sf.reset());

async function authorized(): Promise<Connection> {
  const conn = new Connection({
    oauth2: { loginUrl: sf.url, clientId: sf.clientId, clientSecret: sf.clientSecret },
    version: '60.0',
  });
  await conn.authorize({ grant_type: 'client_credentials' });
  return conn;
}

function account(id: string, fields: Record<string, unknown> = {}) {
  return { External_Id__c: id, Name: `Account ${id}`, ...fields };
}

async function upsert(
  conn: Connection,
  records: Array<Record<string, unknown>>,
  options: { allOrNone?: boolean } = {},
) {
  return conn
    .sobject('Account')
    .upsert(records, 'External_Id__c', { allOrNone: options.allOrNone ?? false, allowRecursive: true });
}

describe('Salesforce sandbox', () => {
  test('client credentials give jsforce a session on the sandbox itself', async () => {
    const conn = await authorized();
    expect(conn.instanceUrl).toBe(sf.url);
    expect(conn.accessToken).toMatch(/^00D\w+!/);
    expect(conn.userInfo?.organizationId).toMatch(/^00D/);
  });

  test('a wrong client secret is refused with invalid_client', async () => {
    const conn = new Connection({
      oauth2: { loginUrl: sf.url, clientId: sf.clientId, clientSecret: 'wrong' },
      version: '60.0',
    });
    await expect(conn.authorize({ grant_type: 'client_credentials' })).rejects.toMatchObject({
      name: 'invalid_client',
      message: 'invalid client credentials',
    });
  });

  test('an unknown token is answered 401 INVALID_SESSION_ID and the static token is accepted', async () => {
    const bad = new Connection({ instanceUrl: sf.url, accessToken: 'nope', version: '60.0' });
    await expect(bad.describe('Account')).rejects.toMatchObject({ errorCode: 'INVALID_SESSION_ID' });
    const good = new Connection({ instanceUrl: sf.url, accessToken: sf.accessToken, version: '60.0' });
    await expect(good.describe('Account')).resolves.toMatchObject({ name: 'Account', keyPrefix: '001' });
  });

  test('describe marks External_Id__c as an external id and Name as required with 80 characters', async () => {
    const conn = await authorized();
    const { fields } = await conn.describe('Account');
    expect(fields.find((f) => f.name === 'External_Id__c')).toMatchObject({
      externalId: true,
      idLookup: true,
      unique: true,
      type: 'string',
    });
    expect(fields.find((f) => f.name === 'Name')).toMatchObject({
      nillable: false,
      length: 80,
      createable: true,
      updateable: true,
    });
    expect(fields.find((f) => f.name === 'Health_Score__c')).toMatchObject({ type: 'double' });
  });

  test('describing an unknown object answers 404 NOT_FOUND', async () => {
    const conn = await authorized();
    await expect(conn.describe('Acount')).rejects.toMatchObject({
      errorCode: 'NOT_FOUND',
      message: 'The requested resource does not exist',
    });
  });

  test('upserting the same external id twice updates one Account', async () => {
    const conn = await authorized();
    const [first] = await upsert(conn, [account('A-1', { Health_Score__c: 40 })]);
    const [second] = await upsert(conn, [account('A-1', { Health_Score__c: 55 })]);
    expect(first).toMatchObject({ success: true, created: true });
    expect(second).toMatchObject({ success: true, created: false, id: first?.id });
    expect(sf.records('Account')).toEqual([
      expect.objectContaining({ External_Id__c: 'A-1', Health_Score__c: 55, Id: first?.id }),
    ]);
  });

  test('record ids are 18-character Salesforce ids with the Account key prefix', async () => {
    const conn = await authorized();
    const results = await upsert(conn, [account('A-1'), account('A-2')]);
    for (const result of results) {
      expect(result.id).toMatch(/^001[0-9A-Za-z]{15}$/);
      expect(isWellFormedId(result.id as string)).toBe(true);
    }
  });

  test('a too-long Name fails only that record with STRING_TOO_LONG and the others land', async () => {
    const conn = await authorized();
    const long = 'x'.repeat(81);
    const results = await upsert(conn, [account('A-1'), account('A-2', { Name: long }), account('A-3')]);
    expect(results.map((r) => r.success)).toEqual([true, false, true]);
    expect(results[1]).toMatchObject({
      id: null,
      errors: [
        {
          statusCode: 'STRING_TOO_LONG',
          message: `Name: data value too large: ${long} (max length=80)`,
          fields: ['Name'],
        },
      ],
    });
    expect(
      sf
        .records('Account')
        .map((r) => r.External_Id__c)
        .sort(),
    ).toEqual(['A-1', 'A-3']);
  });

  test('duplicate external ids in one batch fail with DUPLICATE_VALUE and write nothing for that key', async () => {
    const conn = await authorized();
    const results = await upsert(conn, [account('A-1'), account('A-2'), account('A-1', { Name: 'Other' })]);
    expect(results.map((r) => r.success)).toEqual([false, true, false]);
    expect(results[0]?.errors).toEqual([
      { statusCode: 'DUPLICATE_VALUE', message: 'Duplicate external id specified: A-1', fields: ['External_Id__c'] },
    ]);
    expect(sf.records('Account').map((r) => r.External_Id__c)).toEqual(['A-2']);
  });

  test('inserting without a Name fails with REQUIRED_FIELD_MISSING', async () => {
    const conn = await authorized();
    const [result] = await upsert(conn, [{ External_Id__c: 'A-1', Health_Score__c: 3 }]);
    expect(result?.errors).toEqual([
      { statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] },
    ]);
  });

  test('an unknown field fails the whole request with INVALID_FIELD', async () => {
    const conn = await authorized();
    await expect(upsert(conn, [account('A-1'), account('A-2', { Foo__c: 1 })])).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD',
      message: "No such column 'Foo__c' on sobject of type Account",
    });
    expect(sf.records('Account')).toEqual([]);
  });

  test('a word where a number belongs fails the whole request with JSON_PARSER_ERROR', async () => {
    const conn = await authorized();
    await expect(upsert(conn, [account('A-1', { Health_Score__c: 'high' })])).rejects.toMatchObject({
      errorCode: 'JSON_PARSER_ERROR',
    });
    const [result] = await upsert(conn, [account('A-1', { Health_Score__c: '42.5' })]);
    expect(result?.success).toBe(true);
    expect(sf.records('Account')[0]?.Health_Score__c).toBe(42.5);
  });

  test('read-only fields fail the record with INVALID_FIELD_FOR_INSERT_UPDATE', async () => {
    const conn = await authorized();
    const [result] = await upsert(conn, [account('A-1', { CreatedDate: '2024-01-01T00:00:00Z' })]);
    expect(result?.errors[0]).toMatchObject({ statusCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: ['CreatedDate'] });
  });

  test('allOrNone rolls back every record when one fails', async () => {
    const conn = await authorized();
    const results = await upsert(conn, [account('A-1'), account('A-2', { Name: null })], { allOrNone: true });
    // jsforce types these errors as { errorCode }, but Salesforce's collections results say statusCode.
    expect(results).toMatchObject([
      { success: false, errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }] },
      { success: false, errors: [{ statusCode: 'REQUIRED_FIELD_MISSING' }] },
    ]);
    expect(sf.records('Account')).toEqual([]);
  });

  test('201 records go out as two collection requests when jsforce may recurse, and fail with EXCEEDED_ID_LIMIT otherwise', async () => {
    const conn = await authorized();
    const records = Array.from({ length: 201 }, (_, i) => account(`A-${i}`));
    const results = await upsert(conn, records);
    expect(results.filter((r) => r.success)).toHaveLength(201);
    expect(sf.stats()).toMatchObject({ upsertRequests: 2, recordsCreated: 201 });
    await expect(conn.sobject('Account').upsert(records, 'External_Id__c')).rejects.toMatchObject({
      errorCode: 'EXCEEDED_ID_LIMIT',
    });
  });

  test('collections delete removes records and answers ENTITY_IS_DELETED the second time', async () => {
    const conn = await authorized();
    const [created] = await upsert(conn, [account('A-1')]);
    const id = created?.id as string;
    expect(await conn.sobject('Account').destroy([id])).toEqual([{ id, success: true, errors: [] }]);
    expect(sf.records('Account')).toEqual([]);
    const [again] = await conn.sobject('Account').destroy([id]);
    expect(again).toMatchObject({ success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED' }] });
  });

  test('every response carries Sforce-Limit-Info and a JSON content type, and jsforce reads the usage', async () => {
    const conn = await authorized();
    await conn.describe('Account');
    expect(conn.limitInfo.apiUsage).toEqual({ used: 1, limit: 100000 });
    const response = await fetch(`${sf.url}/services/data/`);
    expect(response.headers.get('sforce-limit-info')).toBe('api-usage=1/100000');
    expect(response.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(await response.json()).toContainEqual({ label: "Spring '24", url: '/services/data/v60.0', version: '60.0' });
  });

  test('the limits endpoint reports the remaining daily budget', async () => {
    const conn = await authorized();
    sf.injectFaults({ dailyApiLimit: 500, apiUsed: 100 });
    const limits = await conn.request<{ DailyApiRequests: { Max: number; Remaining: number } }>(
      '/services/data/v60.0/limits',
    );
    expect(limits.DailyApiRequests).toEqual({ Max: 500, Remaining: 399 });
  });

  test('an exhausted daily budget answers 403 REQUEST_LIMIT_EXCEEDED', async () => {
    const conn = await authorized();
    sf.injectFaults({ dailyApiLimit: 10, apiUsed: 10 });
    await expect(conn.describe('Account')).rejects.toMatchObject({
      errorCode: 'REQUEST_LIMIT_EXCEEDED',
      message: 'TotalRequests Limit exceeded.',
    });
  });

  test('faults set over HTTP drop a connection, then answer 503, then 429 with Retry-After', async () => {
    await fetch(`${sf.url}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ serverUnavailable: 1, throttled: 1, retryAfterSeconds: 7, dropConnection: 1 }),
    });
    await expect(fetch(`${sf.url}/services/data/`)).rejects.toThrow('fetch failed');
    const unavailable = await fetch(`${sf.url}/services/data/`);
    expect(unavailable.status).toBe(503);
    expect(await unavailable.json()).toEqual([expect.objectContaining({ errorCode: 'SERVER_UNAVAILABLE' })]);
    const throttled = await fetch(`${sf.url}/services/data/`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect((await fetch(`${sf.url}/services/data/`)).status).toBe(200);
  });

  test('latency delays every answer', async () => {
    sf.injectFaults({ latencyMs: 150 });
    const started = Date.now();
    await fetch(`${sf.url}/services/data/`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  test('expired sessions are refused until jsforce authorises again', async () => {
    const conn = await authorized();
    sf.injectFaults({ expireSessions: true });
    const stale = new Connection({ instanceUrl: sf.url, accessToken: conn.accessToken as string, version: '60.0' });
    await expect(stale.describe('Account')).rejects.toMatchObject({ errorCode: 'INVALID_SESSION_ID' });
    await expect((await authorized()).describe('Account')).resolves.toMatchObject({ name: 'Account' });
  });

  test('a locked row fails only its record with UNABLE_TO_LOCK_ROW for its first N upserts, and the others are written', async () => {
    const conn = await authorized();
    sf.injectFaults({ lockErrors: { keys: ['L-2'], count: 2 } });
    const lockedResult = {
      success: false,
      errors: [
        {
          statusCode: 'UNABLE_TO_LOCK_ROW',
          message: 'unable to obtain exclusive access to this record or 1 records: L-2',
          fields: [],
        },
      ],
    };
    const first = await upsert(conn, [account('L-1'), account('L-2')]);
    expect(first).toEqual([
      expect.objectContaining({ success: true, created: true }),
      expect.objectContaining(lockedResult),
    ]);
    expect(await upsert(conn, [account('L-2')])).toEqual([expect.objectContaining(lockedResult)]);
    expect(await upsert(conn, [account('L-2')])).toEqual([expect.objectContaining({ success: true, created: true })]);
    expect(sf.records('Account').map((a) => a.External_Id__c)).toEqual(['L-1', 'L-2']);

    const attempts = await (await fetch(`${sf.url}/__sandbox/upsert-attempts/Account`)).json();
    expect(attempts).toEqual({ 'L-1': 1, 'L-2': 3 });
    expect(sf.stats()).toMatchObject({ recordsLocked: 2, recordsFailed: 2, recordsUpserted: 2 });
  });

  test('lock faults set over HTTP lock every attempt until removed', async () => {
    const conn = await authorized();
    const set = (lockErrors: unknown) =>
      fetch(`${sf.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ lockErrors }) });
    await set({ keys: ['L-1'] });
    for (let i = 0; i < 3; i++) {
      expect(await upsert(conn, [account('L-1')])).toEqual([expect.objectContaining({ success: false })]);
    }
    await set(null);
    expect(await upsert(conn, [account('L-1')])).toEqual([expect.objectContaining({ success: true })]);
  });

  test('the inspection endpoint counts API calls', async () => {
    const conn = await authorized();
    await conn.describe('Account');
    await upsert(conn, [account('A-1'), account('A-2', { Name: 'y'.repeat(100) })]);
    const stats = (await (await fetch(`${sf.url}/__sandbox/stats`)).json()) as Record<string, number>;
    expect(stats).toMatchObject({
      total: 3,
      tokenRequests: 1,
      describeRequests: 1,
      upsertRequests: 1,
      recordsUpserted: 1,
      recordsFailed: 1,
      apiUsed: 2,
    });
    const records = (await (await fetch(`${sf.url}/__sandbox/records/Account`)).json()) as unknown[];
    expect(records).toHaveLength(1);
  });

  test('records persist across a sandbox restart when a file is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebb-sf-'));
    const file = join(dir, 'org.json');
    try {
      const first = await startSalesforceSandbox({ file });
      const conn = new Connection({ instanceUrl: first.url, accessToken: first.accessToken, version: '60.0' });
      const [created] = await conn.sobject('Account').upsert([account('A-1')], 'External_Id__c');
      await first.close();

      const second = await startSalesforceSandbox({ file });
      try {
        expect(second.records('Account')).toEqual([
          expect.objectContaining({ Id: created?.id, External_Id__c: 'A-1' }),
        ]);
        const again = new Connection({ instanceUrl: second.url, accessToken: second.accessToken, version: '60.0' });
        const [updated] = await again.sobject('Account').upsert([account('A-1'), account('A-2')], 'External_Id__c');
        expect(updated).toMatchObject({ id: created?.id, created: false });
        expect(second.records('Account')).toHaveLength(2);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Salesforce sandbox queries and collections create and update', () => {
  test('a SOQL query by external id answers the matching Accounts with their attributes', async () => {
    const conn = await authorized();
    const created = await upsert(conn, [account('A-1'), account('A-2'), account('A-3')]);
    const result = await conn.query(
      "SELECT Id, External_Id__c, name FROM Account WHERE External_Id__c IN ('A-1', 'A-3', 'A-9')",
    );
    expect(result).toEqual({
      totalSize: 2,
      done: true,
      records: [0, 2].map((i) => ({
        attributes: { type: 'Account', url: `/services/data/v60.0/sobjects/Account/${created[i]?.id}` },
        Id: created[i]?.id,
        External_Id__c: `A-${i + 1}`,
        Name: `Account A-${i + 1}`,
      })),
    });
    expect(sf.stats().queryRequests).toBe(1);
  });

  test('a string literal with escaped quotes and backslashes matches the exact value', async () => {
    const conn = await authorized();
    await upsert(conn, [account("O'Brien\\1"), account('OBrien1')]);
    const result = await conn.query("SELECT External_Id__c FROM Account WHERE External_Id__c = 'O\\'Brien\\\\1'");
    expect(result.records.map((r) => r.External_Id__c)).toEqual(["O'Brien\\1"]);
  });

  test('a query Salesforce cannot parse answers 400 MALFORMED_QUERY pointing at the offending token', async () => {
    const conn = await authorized();
    const response = await fetch(
      `${sf.url}/services/data/v60.0/query?q=${encodeURIComponent('SELECT Id FROM Account WHERE')}`,
      { headers: { Authorization: `Bearer ${conn.accessToken}` } },
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual([
      {
        errorCode: 'MALFORMED_QUERY',
        message:
          '\nSELECT Id FROM Account WHERE\n                            ^\nERROR at Row:1:Column:29\nunexpected token: <EOF>',
      },
    ]);
    await expect(conn.query("SELECT Id FROM Account WHERE Name LIKE 'A%'")).rejects.toMatchObject({
      errorCode: 'MALFORMED_QUERY',
      message: expect.stringContaining('unexpected token: LIKE'),
    });
  });

  test('an unknown field answers 400 INVALID_FIELD and an unknown object INVALID_TYPE', async () => {
    const conn = await authorized();
    await expect(conn.query("SELECT Id, Helth__c FROM Account WHERE Name = 'x'")).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD',
      message: expect.stringContaining("No such column 'Helth__c' on entity 'Account'."),
    });
    await expect(conn.query("SELECT Id FROM Account WHERE Externl_Id__c = 'x'")).rejects.toMatchObject({
      errorCode: 'INVALID_FIELD',
    });
    await expect(conn.query('SELECT Id FROM Acount')).rejects.toMatchObject({
      errorCode: 'INVALID_TYPE',
      message: expect.stringContaining("sObject type 'Acount' is not supported."),
    });
  });

  test('collections create adds Accounts and refuses an External Id another Account holds with DUPLICATE_VALUE', async () => {
    const conn = await authorized();
    const [existing] = await upsert(conn, [account('A-1', { Health_Score__c: 10 })]);
    const results = await conn
      .sobject('Account')
      .create([account('A-1', { Health_Score__c: 99 }), account('A-2'), account('A-2')], { allOrNone: false });
    expect(results).toEqual([
      {
        id: null,
        success: false,
        errors: [
          {
            statusCode: 'DUPLICATE_VALUE',
            message: `duplicate value found: External_Id__c duplicates value on record with id: ${existing?.id}`,
            fields: [],
          },
        ],
      },
      { id: expect.stringMatching(/^001/), success: true, errors: [] },
      {
        id: null,
        success: false,
        errors: [
          {
            statusCode: 'DUPLICATE_VALUE',
            message: 'duplicate value found: <unknown> duplicates value on record with id: <unknown>',
            fields: [],
          },
        ],
      },
    ]);
    expect(sf.records('Account').map((r) => [r.External_Id__c, r.Health_Score__c])).toEqual([
      ['A-1', 10],
      ['A-2', null],
    ]);
    expect(sf.stats()).toMatchObject({ createRequests: 1, recordsCreated: 2, recordsFailed: 2 });
  });

  test('collections update changes Accounts by Id and tells a deleted id from one never issued', async () => {
    const conn = await authorized();
    const [kept, gone] = await upsert(conn, [account('A-1'), account('A-2')]);
    await conn.sobject('Account').destroy([gone?.id as string]);
    const neverIssued = `001${'5g'}${'0'.repeat(8)}zz`;
    const results = await conn.sobject('Account').update(
      [
        { Id: kept?.id as string, Health_Score__c: 77 },
        { Id: gone?.id as string, Health_Score__c: 1 },
        { Id: `${neverIssued}${caseSafeSuffix(neverIssued)}`, Health_Score__c: 1 },
      ],
      { allOrNone: false },
    );
    expect(results).toMatchObject([
      { id: kept?.id, success: true, errors: [] },
      { success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED' }] },
      {
        success: false,
        errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id' }],
      },
    ]);
    expect(sf.records('Account')).toEqual([
      expect.objectContaining({ Id: kept?.id, External_Id__c: 'A-1', Name: 'Account A-1', Health_Score__c: 77 }),
    ]);
    expect(sf.stats()).toMatchObject({ updateRequests: 1, recordsUpdated: 1 });
  });
});
