/**
 * Lookups by external id: a Contact's `Account` mapped through `Account.External_Id__c`, resolved
 * by Salesforce (the sandbox) on upsert; a missing parent fails that record with Salesforce's own
 * error, and a null parent key clears the reference.
 */
import { execDuckDb } from '../sandbox/warehouse/demo-warehouse';
import { salesforceSyncYaml } from './harness/sync-yaml';
import { startEngine, type EngineHarness } from './harness/engine';

let engine: EngineHarness;
afterEach(async () => {
  await engine.stop();
});

const contactsModel = `
  contacts:
    source: warehouse
    primaryKey: contact_id
    sql: select contact_id, last_name, account_id from contacts
`;
const contactsSync = (id: string) => `
  ${id}:
    model: contacts
    destination: salesforce
    object: Contact
    externalId: { from: contact_id, to: External_Id__c }
    mapping: { last_name: LastName, account_id: Account.External_Id__c }
`;

test("Contacts find their Account by its External Id, a missing parent fails with Salesforce's error, and a null key clears the reference", async () => {
  engine = await startEngine({
    generated: 0,
    extraModelsYaml: contactsModel,
    syncsYaml: ({ suffix }) => `${salesforceSyncYaml(`accounts-${suffix}`)}${contactsSync(`contacts-${suffix}`)}`,
  });
  await execDuckDb(
    engine.warehouse,
    `create table contacts as select * from (values
       ('c-1', 'Ada', 'acme'), ('c-2', 'Bo', 'globex'), ('c-3', 'Cy', 'no-such-account'), ('c-4', 'Di', null)
     ) as t(contact_id, last_name, account_id)`,
  );
  const [accounts, contacts] = [`accounts-${engine.suffix}`, `contacts-${engine.suffix}`];
  await engine.run(accounts);
  const accountId = (key: string) => engine.sf.records('Account').find((a) => a.External_Id__c === key)?.Id;
  const contact = (key: string) => engine.sf.records('Contact').find((c) => c.External_Id__c === key);

  const first = await engine.run(contacts);
  expect(first).toMatchObject({ status: 'succeeded_with_failures', succeeded: 3, failed: 1 });
  expect(contact('c-1')).toMatchObject({ LastName: 'Ada', AccountId: accountId('acme') });
  expect(contact('c-2')).toMatchObject({ AccountId: accountId('globex') });
  expect(contact('c-3')).toBeUndefined();
  expect(contact('c-4')?.AccountId ?? null).toBeNull();
  const [failure, ...others] = await engine.store.listRecordResults(contacts, {
    runNumber: first.runNumber,
    failedOnly: true,
  });
  expect(others).toHaveLength(0);
  expect(failure).toMatchObject({
    key: 'c-3',
    errorCode: 'INVALID_FIELD',
    errorMessage: expect.stringContaining(
      'Foreign key external ID: no-such-account not found for field External_Id__c in entity Account',
    ),
  });

  // Parents change: Ada moves to Globex, Bo loses hers, Cy's account now exists under another key.
  await execDuckDb(
    engine.warehouse,
    `update contacts set account_id = case contact_id when 'c-1' then 'globex' when 'c-2' then null when 'c-3' then 'initech' else account_id end`,
  );
  const second = await engine.run(contacts);
  expect(second).toMatchObject({ status: 'succeeded', succeeded: 3, failed: 0 });
  expect(contact('c-1')).toMatchObject({ LastName: 'Ada', AccountId: accountId('globex') });
  expect(contact('c-2')?.AccountId ?? null).toBeNull();
  expect(contact('c-3')).toMatchObject({ AccountId: accountId('initech') });
});
