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

test('one Bulk API 2.0 job upserts every record, exact decimals included, and fails only the bad ones', async () => {
  const { createSalesforceBulk, bulkSettings } = await import('../connectors/destinations/salesforce-bulk');
  const { SalesforceSession } = await import('../connectors/destinations/salesforce-session');
  const connection = {
    type: 'salesforce' as const,
    loginUrl: sf.url,
    apiVersion: '60.0',
    auth: { clientId: sf.clientId, clientSecret: sf.clientSecret },
  };
  const session = new SalesforceSession(connection, 'sync bulk-test');
  const bulk = createSalesforceBulk({
    session,
    object: 'Account',
    externalIdField: 'External_Id__c',
    settings: { ...bulkSettings({ above: 1, pollSeconds: 0.1 }, undefined, 'upsert') },
    interpretRequestError: (err) => err,
  });
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
