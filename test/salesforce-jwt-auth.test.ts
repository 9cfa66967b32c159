/**
 * OAuth 2.0 JWT bearer auth: a sync signs its assertion with a private key from the environment or
 * from a file, the sandbox verifies it against the connected app's public key, a wrong key is
 * refused with a message naming the connection, and an expired session is renewed without a fuss.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { ConnectionScope } from '../connectors/destinations/connection-scope';
import { FatalDestinationError } from '../connectors/destinations/destination';
import { createSalesforceDestination, salesforceConnector } from '../connectors/destinations/salesforce-destination';
import { updateDemoAccounts, SEED_ACCOUNTS } from '../sandbox/warehouse/demo-warehouse';
import { startSalesforceSandbox, type SalesforceSandbox } from '../sandbox/salesforce/salesforce-sandbox';
import { startEngine, type EngineHarness } from './harness/engine';

const USERNAME = 'etl@acme.example';

function rsaKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const appKey = rsaKeyPair();

const syncYaml = (id: string) => `
  ${id}:
    model: account_health
    destination: crm
    object: Account
    externalId: { from: account_id, to: External_Id__c }
    mapping: { name: Name, health: Health_Score__c }
`;

const jwtDestination = (key: string) => `
  crm:
    type: salesforce
    loginUrl: \${SF_LOGIN_URL}
    auth:
      clientId: \${SF_CLIENT_ID}
      username: ${USERNAME}
      ${key}
`;

describe('a sync with JWT bearer auth', () => {
  let engine: EngineHarness;
  afterEach(async () => {
    await engine.stop();
  });

  // [where the key comes from, the auth line, the environment, the key file to write in ebb.yaml's directory]
  const forms: Array<[string, string, Record<string, string>, string | null]> = [
    ['an environment variable', 'privateKey: ${SF_JWT_PRIVATE_KEY}', { SF_JWT_PRIVATE_KEY: appKey.privateKey }, null],
    [
      'an environment variable holding the PEM on one line with \\n, as CI secrets do',
      'privateKey: ${SF_JWT_PRIVATE_KEY}',
      { SF_JWT_PRIVATE_KEY: appKey.privateKey.trim().replace(/\n/g, '\\n') },
      null,
    ],
    ['a file relative to ebb.yaml', 'privateKeyFile: ./keys/ebb.key', {}, 'keys/ebb.key'],
  ];

  test.each(forms)(
    'authenticates with a private key from %s and renews an expired session transparently',
    async (_, keyLine, env, keyFile) => {
      engine = await startEngine({
        generated: 0,
        salesforce: { jwt: { publicKey: appKey.publicKey, username: USERNAME } },
        extraDestinationsYaml: jwtDestination(keyLine),
        extraEnv: env,
        syncsYaml: ({ suffix }) => syncYaml(`jwt-${suffix}`),
      });
      if (keyFile) {
        fs.mkdirSync(path.join(engine.dir, path.dirname(keyFile)), { recursive: true });
        fs.writeFileSync(path.join(engine.dir, keyFile), appKey.privateKey);
      }
      const sync = `jwt-${engine.suffix}`;
      const first = await engine.run(sync);
      expect(first).toMatchObject({ status: 'succeeded', succeeded: SEED_ACCOUNTS.length });
      expect(engine.sf.stats().tokenRequests).toBe(1);

      // Salesforce ends the session (INVALID_SESSION_ID): the next run signs a new assertion and goes on.
      engine.sf.injectFaults({ expireSessions: true });
      await updateDemoAccounts(engine.warehouse, [{ account_id: 'acme', health: 12 }]);
      const second = await engine.run(sync);
      expect(second).toMatchObject({ status: 'succeeded', succeeded: 1, failed: 0 });
      // One refused request (the 401), one new token, and the run never saw the difference.
      expect(engine.sf.stats()).toMatchObject({ tokenRequests: 2, rejectedRequests: 1 });
      expect(engine.sf.records('Account').find((a) => a.External_Id__c === 'acme')).toMatchObject({
        Health_Score__c: 12,
      });
    },
  );
});

describe('JWT bearer refusals', () => {
  let sf: SalesforceSandbox;
  beforeAll(async () => {
    sf = await startSalesforceSandbox({ jwt: { publicKey: appKey.publicKey, username: USERNAME } });
  });
  afterAll(async () => {
    await sf.close();
  });

  function check(auth: Record<string, unknown>): Promise<unknown> {
    const connection = salesforceConnector.connectionSchema.parse({
      type: 'salesforce',
      loginUrl: sf.url,
      auth: { clientId: sf.clientId, username: USERNAME, ...auth },
    });
    const sync = salesforceConnector.syncOptionsSchema.parse({
      object: 'Account',
      externalId: { from: 'account_id', to: 'External_Id__c' },
      mapping: { name: 'Name' },
    });
    return createSalesforceDestination(
      connection,
      { ...sync, id: 'accounts', primaryKey: 'account_id' },
      { scope: new ConnectionScope('crm') },
    )
      .check()
      .then(
        () => null,
        (err: unknown) => err,
      );
  }

  // [what is wrong, auth, words of the message]
  const refusals: Array<[string, Record<string, unknown>, string[]]> = [
    [
      'a key whose certificate the connected app does not hold',
      { privateKey: rsaKeyPair().privateKey },
      [
        "Salesforce refused the JWT bearer assertion of destination 'crm'",
        'invalid_grant: invalid assertion',
        'certificate uploaded to the connected app matches the private key',
      ],
    ],
    [
      'a user not pre-authorised for the app',
      { privateKey: appKey.privateKey, username: 'someone@acme.example' },
      ["destination 'crm'", "user hasn't approved this consumer", 'pre-authorise user someone@acme.example'],
    ],
    [
      'a key file that is not there',
      { privateKeyFile: '/nonexistent/ebb.key' },
      ["Cannot read the JWT private key of destination 'crm' from auth.privateKeyFile /nonexistent/ebb.key (ENOENT)"],
    ],
    [
      'a key that is not a PEM private key',
      { privateKey: 'not a key' },
      ["The JWT private key of destination 'crm' cannot sign an RS256 assertion"],
    ],
  ];

  test.each(refusals)('%s fails the check with a message naming the connection', async (_, auth, words) => {
    const error = await check(auth);
    expect(error).toBeInstanceOf(FatalDestinationError);
    for (const w of words) expect((error as Error).message).toContain(w);
  });

  test('the right key passes the check', async () => {
    expect(await check({ privateKey: appKey.privateKey })).toBeNull();
  });
});
