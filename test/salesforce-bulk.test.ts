/**
 * Salesforce Bulk API 2.0 through jsforce's BulkV2 against the sandbox: one job upserts records
 * exactly, each record gets an outcome, and the sandbox's job log shows the job's states.
 */
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';

let sf: SalesforceSandbox;
beforeAll(async () => {
  sf = await startSalesforceSandbox({ bulk: { processingMs: 200 } });
});
afterAll(() => sf.close());

/** The connector's bulk path for Accounts of `org`, with the sync's `bulk` option. */
async function accountsBulk(org: SalesforceSandbox, option: { above: number; pollSeconds?: number }) {
  const { createSalesforceBulk, bulkSettings } = await import('../connectors/destinations/salesforce-bulk');
  const { SalesforceSession } = await import('../connectors/destinations/salesforce-session');
  const connection = {
    type: 'salesforce' as const,
    loginUrl: org.url,
    apiVersion: '60.0',
    auth: { clientId: org.clientId, clientSecret: org.clientSecret },
  };
  return createSalesforceBulk({
    session: new SalesforceSession(connection, 'sync bulk-test'),
    object: 'Account',
    externalIdField: 'External_Id__c',
    settings: bulkSettings(option, undefined, 'upsert'),
    interpretRequestError: (err) => err,
  });
}

test('one Bulk API 2.0 job upserts every record, exact decimals included, and fails only the bad ones', async () => {
  const bulk = await accountsBulk(sf, { above: 1, pollSeconds: 0.1 });
  const rows = [
    { key: 'a', payload: { External_Id__c: 'a', Name: 'Acme', MRR__c: '12345678901234567890.1234567891' } },
    { key: 'b', payload: { External_Id__c: 'b', Name: null, MRR__c: 5 } },
  ];
  const created: string[] = [];
  const outcomes = await bulk.runJob({
    operation: 'upsert',
    records: rows.map((r) => ({ ...r, operation: 'upsert' as const, destinationId: null, hash: 'h' })),
    resumeJobId: null,
    jobCreated: async (id) => void created.push(id),
    heartbeat: () => undefined,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  expect(outcomes).toMatchObject([
    { key: 'a', status: 'succeeded', created: true },
    { key: 'b', status: 'failed', errorCode: 'REQUIRED_FIELD_MISSING', fields: ['Name'] },
  ]);
  expect(sf.records('Account').map((a) => a.MRR__c)).toEqual(['12345678901234567890.1234567891']);
  const jobs = sf.bulkJobs();
  expect(jobs.map((j) => j.id)).toEqual(created);
  expect(jobs[0]?.states.map((s) => s.state)).toEqual(['Open', 'UploadComplete', 'InProgress', 'JobComplete']);
});

test('checks of a Bulk job start 1 s apart and double up to pollSeconds, which a short pollSeconds keeps from the start', async () => {
  const { pollDelayMs } = await import('../connectors/destinations/salesforce-bulk');
  expect([0, 1, 2, 3, 4, 50].map((checks) => pollDelayMs(5000, checks))).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
  expect([0, 1, 2].map((checks) => pollDelayMs(250, checks))).toEqual([250, 250, 250]);
});

test('a job that takes seconds is polled on that ramp, not after a whole pollSeconds', async () => {
  const slow = await startSalesforceSandbox({ bulk: { processingMs: 1500 } });
  try {
    const bulk = await accountsBulk(slow, { above: 1 });
    expect(bulk.describe()).toBe('Bulk API 2.0, one job per 100,000 records, polled after 1, 2, 4 s, then every 5 s');
    // The waits asked for are recorded; each passes in a quarter of its time, so the test stays short.
    const waits: number[] = [];
    const outcomes = await bulk.runJob({
      operation: 'upsert',
      records: [
        {
          key: 'a',
          payload: { External_Id__c: 'a', Name: 'Acme' },
          operation: 'upsert',
          destinationId: null,
          hash: 'h',
        },
      ],
      resumeJobId: null,
      jobCreated: async () => undefined,
      heartbeat: () => undefined,
      sleep: (ms) => {
        waits.push(ms);
        return new Promise((resolve) => setTimeout(resolve, ms / 4));
      },
    });
    expect(outcomes).toMatchObject([{ key: 'a', status: 'succeeded' }]);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000].slice(0, waits.length));
  } finally {
    await slow.close();
  }
});
