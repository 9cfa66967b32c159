/**
 * One Salesforce org, many syncs: a worker logs in once and describes each object once per
 * connection, whatever the number of syncs that use it (issue: 200 syncs made 200 logins).
 */
import { updateDemoAccounts } from '../sandbox/warehouse/demo-warehouse';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

const SYNCS = 4;
let engine: EngineHarness;

afterEach(async () => {
  await engine?.stop();
});

test('several syncs on one Salesforce connection share one login and one describe of their object', async () => {
  engine = await startEngine({
    generated: 4,
    syncsYaml: ({ suffix }) =>
      Array.from({ length: SYNCS }, (_, i) =>
        salesforceSyncYaml(`sf${i}-${suffix}`, i % 2 ? { mapping: '{ name: Name, health: Health_Score__c }' } : {}),
      ).join(''),
  });
  const ids = Array.from({ length: SYNCS }, (_, i) => `sf${i}-${engine.suffix}`);
  for (const id of ids) expect(await engine.run(id)).toMatchObject({ status: 'succeeded' });
  await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 12 }]);
  for (const id of ids) expect(await engine.run(id)).toMatchObject({ status: 'succeeded', changed: 1 });

  const stats = engine.sf.stats();
  expect({ logins: stats.tokenRequests, describes: stats.describeRequests }).toEqual({ logins: 1, describes: 1 });
  // Every sync did write through that one session.
  expect(stats.upsertRequests).toBeGreaterThanOrEqual(2 * SYNCS);
});
