/** What `ebb worker --queues` accepts, and how the `temporal:` block becomes connection options. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load-config';
import type { EbbConfig } from '../config/schema';
import { TemporalTlsFileError, temporalConnectionOptions } from '../cli/temporal-connection';
import { selectQueues, unusedDestinations, UnknownQueueError } from '../workers/queue-selection';

function configWith(temporal = '', env: Record<string, string> = {}): ReturnType<typeof parseConfig> {
  return parseConfig(
    `
${temporal}
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  salesforce: { type: salesforce, instanceUrl: https://acme.my.salesforce.com, auth: { accessToken: tok } }
  slack: { type: slack, token: xoxb-1 }
models:
  accounts: { source: warehouse, primaryKey: id, sql: select * from accounts }
syncs:
  accounts-to-sf:
    model: accounts
    destination: salesforce
    object: Account
    externalId: { from: id, to: External_Id__c }
    mapping: { name: Name }
`,
    { env },
  );
}

const config = configWith().config as EbbConfig;

describe('ebb worker --queues', () => {
  test('engine and destination names select those queues', () => {
    expect(selectQueues(config, ['engine', 'salesforce'])).toEqual({ engine: true, destinations: ['salesforce'] });
    expect(selectQueues(config, ['salesforce', 'slack', 'salesforce'])).toEqual({
      engine: false,
      destinations: ['salesforce', 'slack'],
    });
  });

  test('an unknown name is an error naming it, with the closest queue', () => {
    expect(() => selectQueues(config, ['engine', 'salesfroce'])).toThrow(UnknownQueueError);
    expect(() => selectQueues(config, ['salesfroce'])).toThrow(
      "unknown queue 'salesfroce' in --queues: did you mean 'salesforce'? (known queues: engine, salesforce, slack)",
    );
  });

  test('a selected destination that no sync uses is reported, since it gets no worker', () => {
    expect(unusedDestinations(config, selectQueues(config, ['salesforce', 'slack']))).toEqual(['slack']);
  });
});

describe('temporal: connection settings', () => {
  test('tls and apiKey are accepted; a client certificate without its key is a problem', () => {
    const ok = configWith("temporal: { address: 'ns.acct.tmprl.cloud:7233', apiKey: key-123, tls: true }");
    expect(ok.problems).toEqual([]);
    expect(ok.config?.temporal).toMatchObject({ tls: true, apiKey: 'key-123' });
    const half = configWith('temporal: { tls: { clientCertPath: ./client.pem } }');
    expect(half.problems).toEqual([
      expect.objectContaining({ path: 'temporal.tls.clientKeyPath', message: expect.stringContaining('go together') }),
    ]);
  });

  test('certificate paths are relative to ebb.yaml, and the environment overrides the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-tls-'));
    try {
      for (const name of ['ca.pem', 'client.pem', 'client.key', 'env.pem', 'env.key'])
        fs.writeFileSync(path.join(dir, name), name);
      const temporal = {
        address: 'temporal.internal:7233',
        namespace: 'prod',
        tls: {
          serverName: 'temporal',
          serverRootCaCertPath: 'ca.pem',
          clientCertPath: 'client.pem',
          clientKeyPath: 'client.key',
        },
        apiKey: 'from-file',
      };
      const fromFile = temporalConnectionOptions(temporal, dir, {});
      expect(fromFile).toEqual({
        address: 'temporal.internal:7233',
        apiKey: 'from-file',
        tls: {
          serverNameOverride: 'temporal',
          serverRootCACertificate: Buffer.from('ca.pem'),
          clientCertPair: { crt: Buffer.from('client.pem'), key: Buffer.from('client.key') },
        },
      });
      const fromEnv = temporalConnectionOptions(temporal, dir, {
        EBB_TEMPORAL_API_KEY: 'from-env',
        EBB_TEMPORAL_TLS_CERT: path.join(dir, 'env.pem'),
        EBB_TEMPORAL_TLS_KEY: path.join(dir, 'env.key'),
      });
      expect(fromEnv).toMatchObject({
        apiKey: 'from-env',
        tls: { clientCertPair: { crt: Buffer.from('env.pem'), key: Buffer.from('env.key') } },
      });
      expect(() =>
        temporalConnectionOptions({ ...temporal, tls: { serverRootCaCertPath: 'missing.pem' } }, dir, {}),
      ).toThrow(TemporalTlsFileError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without tls settings an API key alone is passed on, and the SDK turns TLS on for it', () => {
    expect(temporalConnectionOptions({ address: 'a:7233', namespace: 'default' }, '/', {})).toEqual({
      address: 'a:7233',
    });
    expect(temporalConnectionOptions({ address: 'a:7233', namespace: 'default', apiKey: 'k' }, '/', {})).toEqual({
      address: 'a:7233',
      apiKey: 'k',
    });
    expect(
      temporalConnectionOptions({ address: 'a:7233', namespace: 'default', apiKey: 'k', tls: false }, '/', {}),
    ).toEqual({ address: 'a:7233', apiKey: 'k', tls: false });
  });
});
