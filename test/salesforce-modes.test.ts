import {
  FatalDestinationError,
  TransientDestinationError,
  type DeliveryContext,
  type RecordOutcome,
  type RecordToDeliver,
  type Row,
} from '../connectors/destinations/destination';
import {
  createSalesforceDestination,
  salesforceConnector,
  type SalesforceDestination,
} from '../connectors/destinations/salesforce-destination';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';

let sf: SalesforceSandbox;

beforeAll(async () => {
  sf = await startSalesforceSandbox();
});
afterAll(async () => {
  await sf.close();
});
beforeEach(() => sf.reset());

const firstAttempt: DeliveryContext = { syncId: 'accounts-to-sf', attempt: 1, heartbeat: () => {} };
const retry: DeliveryContext = { ...firstAttempt, attempt: 2 };

function destination(mode: string | undefined, syncOverrides: Record<string, unknown> = {}): SalesforceDestination {
  const sync = salesforceConnector.syncOptionsSchema.parse({
    object: 'Account',
    externalId: { from: 'account_id', to: 'External_Id__c' },
    mapping: { name: 'Name', health: 'Health_Score__c', segment: 'Segment__c' },
    ...(mode === undefined ? {} : { mode }),
    ...syncOverrides,
  });
  const connection = salesforceConnector.connectionSchema.parse({
    type: 'salesforce',
    loginUrl: sf.url,
    auth: { clientId: sf.clientId, clientSecret: sf.clientSecret },
  });
  return createSalesforceDestination(connection, { ...sync, id: 'accounts-to-sf', primaryKey: 'account_id' });
}

function row(id: number | string, fields: Row = {}): Row {
  return { account_id: id, name: `Account ${id}`, health: 50, segment: 'at-risk', ...fields };
}

function toDeliver(dest: SalesforceDestination, rows: Row[]): RecordToDeliver[] {
  return rows.map((r) => ({ ...dest.prepare(r), operation: 'upsert', destinationId: null, hash: 'h' }));
}

/** Accounts as (external id, Name, health) triples, sorted by external id. */
function accounts(): Array<[unknown, unknown, unknown]> {
  return sf
    .records('Account')
    .map((r): [unknown, unknown, unknown] => [r.External_Id__c, r.Name, r.Health_Score__c])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

async function seed(rows: Row[]): Promise<Map<string, string>> {
  const dest = destination('upsert');
  const outcomes = await dest.deliver(toDeliver(dest, rows), firstAttempt);
  expect(statuses(outcomes).filter((s) => s !== 'succeeded')).toEqual([]);
  return new Map(outcomes.map((o) => [o.key, o.status === 'succeeded' ? (o.destinationId as string) : '']));
}

function statuses(outcomes: RecordOutcome[]): string[] {
  return outcomes.map((o) => (o.status === 'failed' ? o.errorCode : o.status));
}

describe('Salesforce update mode', () => {
  test('update mode changes existing Accounts and never creates one', async () => {
    const ids = await seed([row(1, { health: 10 }), row(2, { health: 20 })]);
    const before = sf.stats();
    const dest = destination('update');
    const outcomes = await dest.deliver(
      toDeliver(dest, [row(1, { health: 11 }), row(3, { health: 33 }), row(2, { name: 'Renamed', health: 22 })]),
      firstAttempt,
    );
    expect(outcomes).toEqual([
      { key: '1', status: 'succeeded', destinationId: ids.get('1'), created: false },
      expect.objectContaining({ key: '3', status: 'failed', errorCode: 'NOT_FOUND' }),
      { key: '2', status: 'succeeded', destinationId: ids.get('2'), created: false },
    ]);
    expect(accounts()).toEqual([
      ['1', 'Account 1', 11],
      ['2', 'Renamed', 22],
    ]);
    const after = sf.stats();
    expect(after.queryRequests - before.queryRequests).toBe(1);
    expect(after.updateRequests - before.updateRequests).toBe(1);
    expect(after.recordsCreated).toBe(before.recordsCreated);
  });

  test('update mode reports a missing Account as a NOT_FOUND failed record', async () => {
    const dest = destination('update');
    const outcomes = await dest.deliver(toDeliver(dest, [row(7)]), firstAttempt);
    expect(outcomes).toEqual([
      {
        key: '7',
        status: 'failed',
        errorCode: 'NOT_FOUND',
        errorMessage: "no Account with External_Id__c = '7'; mode update never creates records (use upsert)",
      },
    ]);
    expect(sf.records('Account')).toEqual([]);
    expect(sf.stats().updateRequests).toBe(0);
  });

  test('update mode finds keys holding quotes and backslashes', async () => {
    const keys = ["O'Brien", 'back\\slash', "\\'both"];
    await seed(keys.map((key) => row(key)));
    const dest = destination('update');
    const outcomes = await dest.deliver(
      toDeliver(
        dest,
        keys.map((key) => row(key, { health: 99 })),
      ),
      firstAttempt,
    );
    expect(statuses(outcomes)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(sf.records('Account').map((r) => r.Health_Score__c)).toEqual([99, 99, 99]);
  });

  test('update mode splits its lookups so no query grows past 200 keys or a safe URL length', async () => {
    await seed(Array.from({ length: 200 }, (_, i) => row(i)));
    await seed([row(200)]);
    const dest = destination('update');
    const outcomes = await dest.deliver(
      toDeliver(
        dest,
        Array.from({ length: 201 }, (_, i) => row(i, { health: 1 })),
      ),
      firstAttempt,
    );
    expect(outcomes.filter((o) => o.status === 'succeeded')).toHaveLength(201);
    expect(sf.stats()).toMatchObject({ queryRequests: 2, updateRequests: 2 });

    sf.reset();
    const longKeys = Array.from({ length: 50 }, (_, i) => `${i}-${'k'.repeat(245)}`);
    await seed(longKeys.map((key) => row(key, { name: 'Long key' })));
    const long = await dest.deliver(
      toDeliver(
        dest,
        longKeys.map((key) => row(key, { name: 'Long key', health: 2 })),
      ),
      firstAttempt,
    );
    expect(long.filter((o) => o.status === 'succeeded')).toHaveLength(50);
    expect(sf.stats()).toMatchObject({ queryRequests: 2, updateRequests: 1 });
  });

  test('update mode fails only the record whose value Salesforce cannot parse', async () => {
    await seed([row(1), row(2), row(3)]);
    const dest = destination('update');
    const outcomes = await dest.deliver(
      toDeliver(dest, [row(1), row(2, { health: 'very high' }), row(3)]),
      firstAttempt,
    );
    expect(statuses(outcomes)).toEqual(['succeeded', 'JSON_PARSER_ERROR', 'succeeded']);
  });

  test('update mode with an external id field Salesforce does not know fails the batch as fatal', async () => {
    const dest = destination('update', { externalId: { from: 'account_id', to: 'Externl_Id__c' } });
    const error = await dest.deliver(toDeliver(dest, [row(1)]), firstAttempt).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FatalDestinationError);
    expect((error as Error).message).toContain("No such column 'Externl_Id__c' on entity 'Account'");
  });

  test('a 503 during the lookup is transient', async () => {
    const dest = destination('update');
    await dest.check();
    sf.injectFaults({ serverUnavailable: 1 });
    await expect(dest.deliver(toDeliver(dest, [row(1)]), firstAttempt)).rejects.toThrow(TransientDestinationError);
  });
});

describe('Salesforce insert mode', () => {
  test('insert mode creates new Accounts and does not modify an existing one', async () => {
    const ids = await seed([row(1, { health: 10 })]);
    const dest = destination('insert');
    const outcomes = await dest.deliver(toDeliver(dest, [row(1, { health: 99 }), row(2)]), firstAttempt);
    expect(outcomes).toEqual([
      {
        key: '1',
        status: 'failed',
        errorCode: 'DUPLICATE_VALUE',
        errorMessage: `duplicate value found: External_Id__c duplicates value on record with id: ${ids.get('1')}`,
      },
      { key: '2', status: 'succeeded', destinationId: expect.stringMatching(/^001/), created: true },
    ]);
    expect(accounts()).toEqual([
      ['1', 'Account 1', 10],
      ['2', 'Account 2', 50],
    ]);
    expect(sf.stats().upsertRequests).toBe(1);
  });

  test('a re-executed insert after a crash reports the Accounts it already created as succeeded, without duplicates', async () => {
    await seed([row(4, { name: 'Made by hand' })]);
    const dest = destination('insert');
    const batch = toDeliver(dest, [row(1), row(2), row(3)]);
    // The first attempt reached Salesforce, then its worker died before the outcomes were recorded.
    const lost = await dest.deliver(batch, firstAttempt);
    const again = await dest.deliver([...batch, ...toDeliver(dest, [row(4)])], retry);
    expect(again).toEqual([
      ...lost,
      expect.objectContaining({ key: '4', status: 'failed', errorCode: 'DUPLICATE_VALUE' }),
    ]);
    expect(statuses(lost)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(accounts()).toEqual([
      ['1', 'Account 1', 50],
      ['2', 'Account 2', 50],
      ['3', 'Account 3', 50],
      ['4', 'Made by hand', 50],
    ]);
  });

  test('a re-executed insert does not claim an Account that was changed since', async () => {
    const dest = destination('insert');
    const batch = toDeliver(dest, [row(1)]);
    await dest.deliver(batch, firstAttempt);
    await seed([row(1, { health: 12 })]);
    expect(statuses(await dest.deliver(batch, retry))).toEqual(['DUPLICATE_VALUE']);
  });

  test('a first attempt reports an existing Account as DUPLICATE_VALUE even when it holds the same values', async () => {
    await seed([row(1)]);
    const dest = destination('insert');
    expect(statuses(await dest.deliver(toDeliver(dest, [row(1)]), firstAttempt))).toEqual(['DUPLICATE_VALUE']);
    expect(sf.stats().queryRequests).toBe(0);
  });
});

describe('Salesforce upsert and mirror modes', () => {
  test('mirror mode upserts rows by external id and deletes removed ones by Id', async () => {
    const ids = await seed([row(1, { health: 10 })]);
    const dest = destination('mirror');
    const outcomes = await dest.deliver(
      [
        ...toDeliver(dest, [row(2)]),
        { key: '1', payload: {}, operation: 'delete', destinationId: ids.get('1') as string, hash: 'd' },
      ],
      firstAttempt,
    );
    expect(statuses(outcomes)).toEqual(['succeeded', 'succeeded']);
    expect(accounts()).toEqual([['2', 'Account 2', 50]]);
    expect(sf.stats()).toMatchObject({ queryRequests: 0, createRequests: 0, updateRequests: 0 });
  });

  test('a sync without a mode upserts', async () => {
    await seed([row(1, { health: 10 })]);
    const dest = destination(undefined);
    const outcomes = await dest.deliver(toDeliver(dest, [row(1, { health: 11 }), row(2)]), firstAttempt);
    expect(outcomes.map((o) => o.status === 'succeeded' && o.created)).toEqual([false, true]);
    expect(accounts()).toEqual([
      ['1', 'Account 1', 11],
      ['2', 'Account 2', 50],
    ]);
    expect(sf.stats()).toMatchObject({ upsertRequests: 2, queryRequests: 0 });
  });

  test('a mode Salesforce syncs do not have is refused when the destination is created', () => {
    expect(() => destination('append')).toThrow(
      "Sync accounts-to-sf has mode 'append', which a Salesforce sync does not have; use one of upsert, update, insert, mirror",
    );
  });
});

test('check() refuses insert mode keyed by Id, which Salesforce assigns itself', async () => {
  const error = await destination('insert', { externalId: { from: 'account_id', to: 'Id' } })
    .check()
    .catch((err: unknown) => err);
  expect(error).toBeInstanceOf(FatalDestinationError);
  expect((error as Error).message).toContain("externalId.to: mode insert cannot key records by 'Id'");
  await expect(
    destination('update', { externalId: { from: 'account_id', to: 'Id' } }).check(),
  ).resolves.toBeUndefined();
});
