import {
  FatalDestinationError,
  RecordPreparationError,
  TransientDestinationError,
  deliveryShape,
  type DeliveryContext,
  type RecordToDeliver,
  type Row,
} from '../connectors/destinations/destination';
import {
  createSalesforceDestination,
  salesforceConnector,
  type SalesforceConnection,
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

const baseSync = {
  id: 'accounts-to-sf',
  primaryKey: 'account_id',
  object: 'Account',
  externalId: { from: 'account_id', to: 'External_Id__c' },
  mapping: { name: 'Name', health: 'Health_Score__c', segment: 'Segment__c', mrr: 'MRR__c' },
};

const ctx: DeliveryContext = { syncId: 'accounts-to-sf', attempt: 1, heartbeat: () => {} };

function connection(overrides: Record<string, unknown> = {}): SalesforceConnection {
  return salesforceConnector.connectionSchema.parse({
    type: 'salesforce',
    loginUrl: sf.url,
    auth: { clientId: sf.clientId, clientSecret: sf.clientSecret },
    ...overrides,
  });
}

function destination(
  syncOverrides: Record<string, unknown> = {},
  connectionOverrides: Record<string, unknown> = {},
): SalesforceDestination {
  const sync = salesforceConnector.syncOptionsSchema.parse({ ...baseSync, ...syncOverrides });
  return createSalesforceDestination(connection(connectionOverrides), {
    ...sync,
    id: baseSync.id,
    primaryKey: baseSync.primaryKey,
  });
}

function row(id: number, fields: Row = {}): Row {
  return { account_id: id, name: `Account ${id}`, health: 50, segment: 'at-risk', mrr: 1200, ...fields };
}

function toDeliver(dest: SalesforceDestination, rows: Row[]): RecordToDeliver[] {
  return rows.map((r) => ({ ...dest.prepare(r), operation: 'upsert', destinationId: null, hash: 'h' }));
}

describe('Salesforce destination', () => {
  test('upserting the same external id twice updates one Account', async () => {
    const dest = destination();
    const [first] = await dest.deliver(toDeliver(dest, [row(1, { health: 40 })]), ctx);
    const [second] = await dest.deliver(toDeliver(dest, [row(1, { health: 55 })]), ctx);
    expect(first).toMatchObject({ key: '1', status: 'succeeded', created: true });
    expect(second).toMatchObject({ key: '1', status: 'succeeded', created: false });
    expect(
      first?.status === 'succeeded' && second?.status === 'succeeded' && first.destinationId === second.destinationId,
    ).toBe(true);
    expect(sf.records('Account')).toEqual([
      expect.objectContaining({
        External_Id__c: '1',
        Name: 'Account 1',
        Health_Score__c: 55,
        Segment__c: 'at-risk',
        MRR__c: 1200,
      }),
    ]);
  });

  test('a too-long Name fails only that record with STRING_TOO_LONG and the others land', async () => {
    const dest = destination();
    const outcomes = await dest.deliver(toDeliver(dest, [row(1), row(2, { name: 'n'.repeat(81) }), row(3)]), ctx);
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(outcomes[1]).toMatchObject({ key: '2', errorCode: 'STRING_TOO_LONG', fields: ['Name'] });
    expect(sf.records('Account')).toHaveLength(2);
  });

  test('duplicate external ids in one batch fail with DUPLICATE_VALUE', async () => {
    const dest = destination();
    const outcomes = await dest.deliver(toDeliver(dest, [row(1), row(1, { name: 'Again' }), row(2)]), ctx);
    expect(outcomes.map((o) => (o.status === 'failed' ? o.errorCode : o.status))).toEqual([
      'DUPLICATE_VALUE',
      'DUPLICATE_VALUE',
      'succeeded',
    ]);
  });

  test('a value Salesforce cannot parse fails only its record, the rest of the batch lands', async () => {
    const dest = destination();
    const outcomes = await dest.deliver(
      toDeliver(dest, [row(1), row(2), row(3, { health: 'very high' }), row(4), row(5)]),
      ctx,
    );
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded', 'failed', 'succeeded', 'succeeded']);
    expect(outcomes[2]).toMatchObject({
      key: '3',
      errorCode: 'JSON_PARSER_ERROR',
      errorMessage: expect.stringContaining('very high'),
    });
    expect(sf.records('Account')).toHaveLength(4);
  });

  test('201 records go out as two collection requests', async () => {
    const dest = destination();
    const outcomes = await dest.deliver(
      toDeliver(
        dest,
        Array.from({ length: 201 }, (_, i) => row(i)),
      ),
      ctx,
    );
    expect(outcomes.filter((o) => o.status === 'succeeded')).toHaveLength(201);
    expect(outcomes.map((o) => o.key)).toEqual(Array.from({ length: 201 }, (_, i) => String(i)));
    expect(sf.stats().upsertRequests).toBe(2);
  });

  test('deliver heartbeats before every request', async () => {
    const dest = destination();
    let beats = 0;
    await dest.deliver(
      toDeliver(
        dest,
        Array.from({ length: 201 }, (_, i) => row(i)),
      ),
      { ...ctx, heartbeat: () => beats++ },
    );
    expect(beats).toBe(2);
  });

  test('a 503 surfaces as a TransientDestinationError', async () => {
    const dest = destination();
    await dest.check();
    sf.injectFaults({ serverUnavailable: 1 });
    await expect(dest.deliver(toDeliver(dest, [row(1)]), ctx)).rejects.toThrow(TransientDestinationError);
    await expect(dest.deliver(toDeliver(dest, [row(1)]), ctx)).resolves.toEqual([
      expect.objectContaining({ status: 'succeeded' }),
    ]);
  });

  test('a 429 surfaces as a TransientDestinationError carrying Retry-After', async () => {
    const dest = destination();
    await dest.check();
    sf.injectFaults({ throttled: 1, retryAfterSeconds: 4 });
    const error = await dest.deliver(toDeliver(dest, [row(1)]), ctx).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransientDestinationError);
    expect((error as TransientDestinationError).retryAfterMs).toBe(4000);
  });

  test('a dropped connection surfaces as a TransientDestinationError', async () => {
    const dest = destination();
    await dest.check();
    sf.injectFaults({ dropConnection: 1 });
    await expect(dest.deliver(toDeliver(dest, [row(1)]), ctx)).rejects.toThrow(TransientDestinationError);
  });

  test('trouble at the token endpoint is transient too', async () => {
    const dest = destination();
    sf.injectFaults({ serverUnavailable: 1 });
    await expect(dest.check()).rejects.toThrow(TransientDestinationError);
    await expect(dest.check()).resolves.toBeUndefined();
  });

  test('an exhausted daily budget answers REQUEST_LIMIT_EXCEEDED and is transient', async () => {
    const dest = destination();
    sf.injectFaults({ dailyApiLimit: 50, apiUsed: 50 });
    await expect(dest.deliver(toDeliver(dest, [row(1)]), ctx)).rejects.toThrow(/REQUEST_LIMIT_EXCEEDED/);
    await expect(dest.deliver(toDeliver(dest, [row(1)]), ctx)).rejects.toThrow(TransientDestinationError);
  });

  test('apiUsage reports the daily usage Salesforce sent with the last response', async () => {
    const dest = destination();
    expect(dest.apiUsage()).toBeNull();
    sf.injectFaults({ dailyApiLimit: 1000, apiUsed: 900 });
    await dest.deliver(toDeliver(dest, [row(1)]), ctx);
    expect(dest.apiUsage()).toEqual({ used: 901, limit: 1000 });
  });

  test('an expired session is renewed once and the batch still lands', async () => {
    const dest = destination();
    await dest.check();
    sf.injectFaults({ expireSessions: true });
    await expect(dest.deliver(toDeliver(dest, [row(1)]), ctx)).resolves.toEqual([
      expect.objectContaining({ status: 'succeeded' }),
    ]);
    expect(sf.stats().tokenRequests).toBe(2);
  });

  test('batches in flight that hit one expired session share a single renewal and all land', async () => {
    const dest = destination();
    await dest.check();
    // Latency keeps all four requests in flight together, so each of them meets the expired session.
    sf.injectFaults({ expireSessions: true, latencyMs: 50 });
    const batches = [1, 2, 3, 4].map((n) => toDeliver(dest, [row(n * 10), row(n * 10 + 1)]));
    const outcomes = await Promise.all(batches.map((batch) => dest.deliver(batch, ctx)));
    expect(outcomes.flat().map((o) => o.status)).toEqual(Array(8).fill('succeeded'));
    expect(sf.stats()).toMatchObject({ tokenRequests: 2, rejectedRequests: 4, upsertRequests: 4 });
    expect(sf.records('Account')).toHaveLength(8);
  });

  test('an access token works without OAuth, and a rejected one is fatal with a fix', async () => {
    const withToken = destination(
      {},
      { loginUrl: undefined, instanceUrl: sf.url, auth: { accessToken: sf.accessToken } },
    );
    await expect(withToken.check()).resolves.toBeUndefined();
    const badToken = destination({}, { loginUrl: undefined, instanceUrl: sf.url, auth: { accessToken: 'expired' } });
    const error = await badToken.check().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FatalDestinationError);
    expect((error as Error).message).toMatch(/INVALID_SESSION_ID.*auth\.accessToken/);
  });

  test('an unknown object fails check() with a message naming it', async () => {
    const error = await destination({ object: 'Acount' })
      .check()
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FatalDestinationError);
    expect((error as Error).message).toMatch(
      /^Salesforce object 'Acount' does not exist \(sync accounts-to-sf, key object\)\. Did you mean 'Account'\?/,
    );
  });

  test('a misspelt mapped field fails check() naming the field and close candidates', async () => {
    const error = await destination({ mapping: { name: 'Name', health: 'Health_Scor__c', mrr: 'CreatedDate' } })
      .check()
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FatalDestinationError);
    expect((error as Error).message).toContain(
      "mapping.health: field 'Health_Scor__c' does not exist on Account. Did you mean 'Health_Score__c'?",
    );
    expect((error as Error).message).toContain("mapping.mrr: field 'CreatedDate' of Account is read-only");
  });

  test('an external id field that is neither External ID nor idLookup fails check() listing the ones that are', async () => {
    const error = await destination({ externalId: { from: 'account_id', to: 'Website' } })
      .check()
      .catch((err: unknown) => err);
    expect((error as Error).message).toContain(
      "externalId.to: field 'Website' of Account is neither an External ID nor an idLookup field",
    );
    expect((error as Error).message).toContain('Fields it can key records by: Id, Name, External_Id__c');
  });

  test('bad client secret fails check() as fatal', async () => {
    const error = await destination({}, { auth: { clientId: sf.clientId, clientSecret: 'wrong' } })
      .check()
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FatalDestinationError);
    expect((error as Error).message).toMatch(
      /invalid_client: invalid client credentials.*Fix auth\.clientId \/ auth\.clientSecret/,
    );
  });

  test('a field missing from Salesforce at delivery time fails the batch as fatal', async () => {
    const dest = destination({ mapping: { name: 'Name', health: 'Churn_Risk__c' } });
    const error = await dest.deliver(toDeliver(dest, [row(1)]), ctx).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FatalDestinationError);
    expect((error as Error).message).toContain("No such column 'Churn_Risk__c' on sobject of type Account");
  });

  test('mirror deletes remove records by Salesforce id and a repeated delete still succeeds', async () => {
    const dest = destination();
    const [created] = await dest.deliver(toDeliver(dest, [row(1)]), ctx);
    const destinationId = created?.status === 'succeeded' ? created.destinationId : null;
    const deletion: RecordToDeliver[] = [
      { key: '1', payload: {}, operation: 'delete', destinationId, hash: 'd' },
      { key: '9', payload: {}, operation: 'delete', destinationId: null, hash: 'd' },
    ];
    expect(await dest.deliver(deletion, ctx)).toEqual([
      { key: '1', status: 'succeeded', destinationId },
      { key: '9', status: 'succeeded', destinationId: null },
    ]);
    expect(sf.records('Account')).toEqual([]);
    expect(await dest.deliver(deletion.slice(0, 1), ctx)).toEqual([{ key: '1', status: 'succeeded', destinationId }]);
  });

  test('prepare keys the record by the external id column and keeps nulls so Salesforce clears them', () => {
    const dest = destination();
    expect(dest.prepare(row(7, { mrr: null }))).toEqual({
      key: '7',
      payload: { External_Id__c: '7', Name: 'Account 7', Health_Score__c: 50, Segment__c: 'at-risk', MRR__c: null },
    });
    expect(() => dest.prepare(row(0, { account_id: null }))).toThrow(RecordPreparationError);
  });

  test('limits default to 200-record collections, 10 in flight, 10 requests per activity and no per-second cap', () => {
    expect(destination().limits).toEqual({
      batchSize: 200,
      maxConcurrency: 10,
      requestsPerSecond: undefined,
      requestsPerDelivery: 10,
    });
    expect(destination({}, { limits: { maxConcurrency: 2 } }).limits.maxConcurrency).toBe(2);
  });

  test('a per-second limit set in config makes each activity one request, so the server holds the rate across workers', () => {
    const limits = destination({}, { limits: { requestsPerSecond: 5 } }).limits;
    expect(limits).toMatchObject({ requestsPerSecond: 5, requestsPerDelivery: 1 });
    expect(deliveryShape(limits)).toMatchObject({ activitiesPerSecond: 5, recordsPerDelivery: 200, activitySlots: 10 });
    expect(deliveryShape(destination().limits)).toMatchObject({
      activitiesPerSecond: undefined,
      recordsPerDelivery: 2000,
      activitySlots: 2,
      window: 4,
    });
  });
});

describe('Salesforce destination config', () => {
  test('accessToken auth without instanceUrl is refused with a message saying what to add', () => {
    const result = salesforceConnector.connectionSchema.safeParse({ type: 'salesforce', auth: { accessToken: 't' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toContainEqual(
      expect.objectContaining({
        path: ['instanceUrl'],
        message: expect.stringContaining('instanceUrl is required with accessToken auth'),
      }),
    );
  });

  test('incomplete auth is refused with the two accepted shapes', () => {
    const result = salesforceConnector.connectionSchema.safeParse({
      type: 'salesforce',
      loginUrl: 'https://acme.my.salesforce.com',
      auth: { clientId: 'a' },
    });
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ['auth'],
        message: expect.stringContaining('auth must be { clientId, clientSecret }'),
      }),
    ]);
  });

  test('a batch size above 200 is refused', () => {
    const result = salesforceConnector.connectionSchema.safeParse({
      type: 'salesforce',
      loginUrl: 'https://acme.my.salesforce.com',
      auth: { clientId: 'a', clientSecret: 'b' },
      limits: { batchSize: 500 },
    });
    expect(result.error?.issues[0]?.message).toContain('batchSize can be at most 200');
  });

  test('sync options tolerate the keys the engine validates itself', () => {
    expect(
      salesforceConnector.syncOptionsSchema.safeParse({
        ...baseSync,
        model: 'account_health',
        mode: 'upsert',
        schedule: { every: '15m' },
      }).success,
    ).toBe(true);
  });

  test('staticCheck points at mapped columns the model does not select and lists the ones it does', () => {
    const problems = salesforceConnector.staticCheck?.({
      sync: salesforceConnector.syncOptionsSchema.parse(baseSync),
      modelColumns: ['account_id', 'name', 'health', 'mrr'],
    });
    expect(problems).toEqual([
      {
        path: ['mapping', 'segment'],
        message: "Column 'segment' is not selected by the model",
        hint: 'Columns the model selects: account_id, name, health, mrr',
      },
    ]);
  });

  test('staticCheck refuses two columns mapped to one field', () => {
    const sync = salesforceConnector.syncOptionsSchema.parse({ ...baseSync, mapping: { name: 'Name', title: 'Name' } });
    expect(salesforceConnector.staticCheck?.({ sync, modelColumns: null })).toEqual([
      expect.objectContaining({ path: ['mapping', 'title'] }),
    ]);
  });
});
