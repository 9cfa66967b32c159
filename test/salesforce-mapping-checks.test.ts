/**
 * A Salesforce sync's mapping checked against describe: each mistake is caught before any record is
 * sent (the sandbox sees no write), with a message naming the sync, the column and the field; rows
 * whose values the field cannot take fail as records, with an error code, without spending a request.
 */
import { FatalDestinationError, RecordPreparationError } from '../connectors/destinations/destination';
import { createSalesforceDestination, salesforceConnector } from '../connectors/destinations/salesforce-destination';
import {
  accountObject,
  contactObject,
  type SalesforceObjectDefinition,
} from '../sandbox/salesforce/salesforce-objects';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { startEngine, type EngineHarness } from './harness/engine';

/** A custom object with one field of each kind a mapping can get wrong. */
const subscriptionObject: SalesforceObjectDefinition = {
  name: 'Subscription__c',
  keyPrefix: 'a01',
  fields: [
    { name: 'Id', type: 'id' },
    { name: 'Name', type: 'string', length: 80 },
    { name: 'External_Id__c', type: 'string', length: 255, externalId: true, idLookup: true, unique: true },
    { name: 'Legacy_Code__c', type: 'string', length: 20 },
    { name: 'Plan_Code__c', type: 'string', length: 5 },
    { name: 'Seats__c', type: 'double' },
    { name: 'Renewal_Date__c', type: 'date' },
    { name: 'Tier__c', type: 'picklist', picklistValues: ['Gold', 'Silver'], restrictedPicklist: true },
    { name: 'Channel__c', type: 'picklist', picklistValues: ['Direct', 'Partner'] },
    { name: 'Total__c', type: 'double', createable: false, updateable: false },
    { name: 'Signed_On__c', type: 'date', createable: true, updateable: false },
    { name: 'Owner_Note__c', type: 'string', length: 255, createable: false, updateable: true },
    { name: 'Account__c', type: 'reference', referenceTo: ['Account'] },
  ],
};
const objects = [accountObject, contactObject, subscriptionObject];

const SYNC = 'subs-to-sf';

describe('mapping checks against describe', () => {
  let sf: SalesforceSandbox;
  beforeAll(async () => {
    sf = await startSalesforceSandbox({ objects });
  });
  afterAll(async () => {
    await sf.close();
  });
  beforeEach(() => sf.reset());

  function destination(sync: { mode?: string; externalId?: { from: string; to: string }; mapping: object }) {
    const connection = salesforceConnector.connectionSchema.parse({
      type: 'salesforce',
      loginUrl: sf.url,
      auth: { clientId: sf.clientId, clientSecret: sf.clientSecret },
    });
    const options = salesforceConnector.syncOptionsSchema.parse({
      object: 'Subscription__c',
      externalId: { from: 'sub_id', to: 'External_Id__c' },
      ...sync,
    });
    return createSalesforceDestination(connection, { ...options, id: SYNC, primaryKey: 'sub_id' });
  }

  // [mistake, sync options, the line of the check's message that names column (path) and field]
  const mistakes: Array<[string, Parameters<typeof destination>[0], string]> = [
    [
      'a read-only field (a formula)',
      { mapping: { total: 'Total__c' } },
      "mapping.total: field 'Total__c' of Subscription__c is read-only",
    ],
    [
      'a field set only on create, in a mode that updates',
      { mapping: { signed: 'Signed_On__c' } },
      "mapping.signed: field 'Signed_On__c' of Subscription__c is not updateable (set only when a record is created), and mode upsert updates records",
    ],
    [
      'a field that cannot be set on create, in mode insert',
      { mode: 'insert', mapping: { note: 'Owner_Note__c' } },
      "mapping.note: field 'Owner_Note__c' of Subscription__c is not createable, and mode insert creates records",
    ],
    [
      'an external id field not marked External ID or idLookup',
      { externalId: { from: 'sub_id', to: 'Legacy_Code__c' }, mapping: { name: 'Name' } },
      "externalId.to: field 'Legacy_Code__c' of Subscription__c is neither an External ID nor an idLookup field, so Salesforce cannot key the rows of column 'sub_id' by it. Fields it can key records by: External_Id__c.",
    ],
    [
      "a lookup by a parent field that is not the parent's External ID",
      { mapping: { account: 'Account__r.Website' } },
      "mapping.account: field 'Website' of Account is neither an External ID nor an idLookup field, so Salesforce cannot find a parent by it",
    ],
    [
      'a field that does not exist',
      { mapping: { seats: 'Seat__c' } },
      "mapping.seats: field 'Seat__c' does not exist on Subscription__c. Did you mean 'Seats__c'?",
    ],
  ];

  test.each(mistakes)(
    '%s is refused by the check, naming sync, column and field, and nothing is sent',
    async (_, sync, line) => {
      const error = await destination(sync)
        .check()
        .catch((err: unknown) => err);
      expect(error).toBeInstanceOf(FatalDestinationError);
      expect((error as Error).message).toContain(`sync ${SYNC} do not match Subscription__c`);
      expect((error as Error).message).toContain(line);
      const stats = sf.stats();
      expect(stats.upsertRequests + stats.createRequests + stats.updateRequests).toBe(0);
    },
  );

  test('fields each mode may write pass: create-only fields in insert, update-only fields in update, a lookup by External ID', async () => {
    await destination({
      mode: 'insert',
      mapping: { signed: 'Signed_On__c', account: 'Account__r.External_Id__c' },
    }).check();
    await destination({ mode: 'update', mapping: { note: 'Owner_Note__c' } }).check();
  });

  // [mistake, column, value, error code, words of the message]
  const badValues: Array<[string, string, unknown, string, string]> = [
    ['text into a number field', 'seats', 'many', 'NOT_A_NUMBER', 'field Seats__c of Subscription__c is a number'],
    [
      'a date not in YYYY-MM-DD',
      'renewal',
      '05/01/2025',
      'INVALID_DATE',
      'field Renewal_Date__c of Subscription__c takes a date as YYYY-MM-DD',
    ],
    [
      'a value the restricted picklist does not offer',
      'tier',
      'Platinum',
      'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
      'which the restricted picklist field Tier__c of Subscription__c does not offer (values: Gold, Silver)',
    ],
    [
      'a value longer than the field',
      'code',
      'ENTERPRISE',
      'STRING_TOO_LONG',
      'holds 10 characters, more than the 5 field Plan_Code__c of Subscription__c holds',
    ],
  ];
  const mapping = {
    seats: 'Seats__c',
    renewal: 'Renewal_Date__c',
    tier: 'Tier__c',
    code: 'Plan_Code__c',
    channel: 'Channel__c',
  };
  const goodRow = { sub_id: 's-1', seats: '12', renewal: '2025-05-01', tier: 'Gold', code: 'PRO', channel: 'Reseller' };

  test.each(badValues)(
    '%s fails the record with its code, naming sync, column and field',
    async (_, column, value, code, words) => {
      const dest = destination({ mapping });
      await dest.check();
      const error = (() => {
        try {
          dest.prepare({ ...goodRow, [column]: value });
          return null;
        } catch (err) {
          return err;
        }
      })();
      expect(error).toBeInstanceOf(RecordPreparationError);
      expect(error).toMatchObject({ errorCode: code });
      expect((error as Error).message).toContain(`sync ${SYNC}: Column '${column}'`);
      expect((error as Error).message).toContain(words);
    },
  );

  test('values the fields take pass, an unrestricted picklist takes any value, and a date-time at midnight becomes its day', async () => {
    const dest = destination({ mapping });
    await dest.check();
    expect(dest.prepare({ ...goodRow, renewal: '2025-05-01T00:00:00.000Z' }).payload).toEqual({
      External_Id__c: 's-1',
      Seats__c: '12',
      Renewal_Date__c: '2025-05-01',
      Tier__c: 'Gold',
      Plan_Code__c: 'PRO',
      Channel__c: 'Reseller',
    });
  });
});

describe('mapping checks in a run', () => {
  let engine: EngineHarness;
  afterEach(async () => {
    await engine.stop();
  });

  const subsModel = `
  subscriptions:
    source: warehouse
    primaryKey: sub_id
    sql: >-
      select * from (values
        ('good', '12', '2025-05-01', 'Gold', 'PRO'),
        ('text-seats', 'many', '2025-05-01', 'Gold', 'PRO'),
        ('us-date', '3', '05/01/2025', 'Silver', 'PRO'),
        ('platinum', '3', '2025-05-01', 'Platinum', 'PRO'),
        ('long-code', '3', '2025-05-01', 'Silver', 'ENTERPRISE')
      ) as t(sub_id, seats, renewal, tier, code)
`;
  const subsSync = (id: string, mapping: string) => `
  ${id}:
    model: subscriptions
    destination: salesforce
    object: Subscription__c
    externalId: { from: sub_id, to: External_Id__c }
    mapping: ${mapping}
`;

  test('rows whose values the fields cannot take are failed results with their codes, and only the good row is sent', async () => {
    engine = await startEngine({
      generated: 0,
      salesforce: { objects },
      extraModelsYaml: subsModel,
      syncsYaml: ({ suffix }) =>
        subsSync(`subs-${suffix}`, '{ seats: Seats__c, renewal: Renewal_Date__c, tier: Tier__c, code: Plan_Code__c }'),
    });
    const sync = `subs-${engine.suffix}`;
    const run = await engine.run(sync);
    expect(run).toMatchObject({ status: 'succeeded_with_failures', succeeded: 1, invalid: 4 });
    const failed = await engine.store.listRecordResults(sync, { runNumber: run.runNumber, failedOnly: true });
    expect(Object.fromEntries(failed.map((r) => [r.key, r.errorCode]))).toEqual({
      'text-seats': 'NOT_A_NUMBER',
      'us-date': 'INVALID_DATE',
      platinum: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
      'long-code': 'STRING_TOO_LONG',
    });
    for (const r of failed) expect(r.errorMessage).toContain(`sync ${sync}: Column '`);
    // One request for the one good row: the four bad ones cost nothing.
    expect(engine.sf.stats().upsertRequests).toBe(1);
    expect(engine.sf.records('Subscription__c').map((r) => r.External_Id__c)).toEqual(['good']);
  });

  test('a mapping mistake fails the run before any record is sent, naming sync, column and field', async () => {
    engine = await startEngine({
      generated: 0,
      salesforce: { objects },
      extraModelsYaml: subsModel,
      syncsYaml: ({ suffix }) => subsSync(`subs-${suffix}`, '{ seats: Total__c }'),
    });
    const sync = `subs-${engine.suffix}`;
    const run = await engine.run(sync);
    expect(run.status).toBe('failed');
    expect(run.error).toContain(`sync ${sync} do not match Subscription__c`);
    expect(run.error).toContain("mapping.seats: field 'Total__c' of Subscription__c is read-only");
    const stats = engine.sf.stats();
    expect(stats.upsertRequests + stats.createRequests + stats.updateRequests).toBe(0);
  });
});
