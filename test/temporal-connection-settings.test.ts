/**
 * How ebb.yaml's `temporal:` block and the environment become the options of both Temporal
 * connections, and which ways of giving a secret are refused. (test/temporal-tls.test.ts connects
 * with them through TLS.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load-config';
import {
  TemporalSettingError,
  TemporalTlsFileError,
  TemporalUnreachableError,
  temporalConnectionOptions,
} from '../cli/temporal-connection';

function configWith(temporal: string, env: Record<string, string> = {}): ReturnType<typeof parseConfig> {
  return parseConfig(
    `${temporal}
sources:
  warehouse: { type: duckdb, path: ./warehouse.duckdb }
destinations:
  slack: { type: slack, token: xoxb-1 }
models:
  accounts: { source: warehouse, primaryKey: id, sql: select * from accounts }
syncs:
  accounts-to-slack: { model: accounts, destination: slack, channel: '#cs', template: '{{ id }}' }
`,
    { env },
  );
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-tls-settings-'));
  for (const name of ['ca.pem', 'client.pem', 'client.key', 'env.pem', 'env.key', 'env-ca.pem'])
    fs.writeFileSync(path.join(dir, name), `-----BEGIN ${name}-----\n`);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const pem = (name: string) => Buffer.from(`-----BEGIN ${name}-----\n`);

describe('ebb.yaml temporal: block', () => {
  test('an API key from the environment and tls: true are accepted', () => {
    const ok = configWith(
      "temporal: { address: 'ns.acct.tmprl.cloud:7233', apiKey: '${TEMPORAL_API_KEY}', tls: true }",
      {
        TEMPORAL_API_KEY: 'key-123',
      },
    );
    expect(ok.problems).toEqual([]);
    expect(ok.config?.temporal).toMatchObject({ tls: true, apiKey: 'key-123' });
  });

  test('an API key written in ebb.yaml itself is refused, naming temporal.apiKey and where to put it', () => {
    const { problems } = configWith(
      'temporal:\n  address: ns.acct.tmprl.cloud:7233\n  apiKey: eyJhbGciOiJFUzI1NiJ9.secret',
    );
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'temporal.apiKey',
        line: 3,
        message: 'temporal.apiKey is written in ebb.yaml itself: an API key must not live in the config file',
        hint: expect.stringContaining('apiKey: ${TEMPORAL_API_KEY}'),
      }),
    ]);
    expect(problems[0]?.hint).toContain('EBB_TEMPORAL_API_KEY_FILE');
    // A literal default after `-` is a key written in the file too.
    expect(configWith("temporal: { apiKey: '${TEMPORAL_API_KEY-eyJhbGci}' }").problems).toEqual([
      expect.objectContaining({ path: 'temporal.apiKey' }),
    ]);
  });

  test('apiKey and apiKeyPath together are a problem, since only one key can be used', () => {
    const { problems } = configWith("temporal: { apiKey: '${K}', apiKeyPath: ./key }", { K: 'key-123' });
    expect(problems).toEqual([
      expect.objectContaining({
        path: 'temporal.apiKeyPath',
        message: expect.stringContaining('both give the API key'),
      }),
    ]);
  });

  test('a client certificate without its key is a problem naming the missing one', () => {
    expect(configWith('temporal: { tls: { clientCertPath: ./client.pem } }').problems).toEqual([
      expect.objectContaining({ path: 'temporal.tls.clientKeyPath', message: expect.stringContaining('go together') }),
    ]);
  });
});

describe('connection options', () => {
  const temporal = {
    address: 'temporal.internal:7233',
    namespace: 'prod',
    tls: {
      serverName: 'temporal',
      serverRootCaCertPath: 'ca.pem',
      clientCertPath: 'client.pem',
      clientKeyPath: 'client.key',
    },
  };

  test('certificate paths are relative to ebb.yaml, and each environment variable replaces its setting', () => {
    expect(temporalConnectionOptions({ ...temporal, apiKey: 'from-yaml' }, dir, {})).toEqual({
      address: 'temporal.internal:7233',
      apiKey: 'from-yaml',
      tls: {
        serverNameOverride: 'temporal',
        serverRootCACertificate: pem('ca.pem'),
        clientCertPair: { crt: pem('client.pem'), key: pem('client.key') },
      },
    });
    const fromEnv = temporalConnectionOptions({ ...temporal, apiKey: 'from-yaml' }, '/elsewhere', {
      EBB_TEMPORAL_API_KEY: 'from-env',
      EBB_TEMPORAL_TLS_CERT: path.join(dir, 'env.pem'),
      EBB_TEMPORAL_TLS_KEY: path.join(dir, 'env.key'),
      EBB_TEMPORAL_TLS_CA: path.join(dir, 'env-ca.pem'),
      EBB_TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
    });
    expect(fromEnv).toEqual({
      address: 'temporal.internal:7233',
      apiKey: 'from-env',
      tls: {
        serverNameOverride: 'temporal.example.com',
        serverRootCACertificate: pem('env-ca.pem'),
        clientCertPair: { crt: pem('env.pem'), key: pem('env.key') },
      },
    });
  });

  test('TLS settings from the environment alone turn TLS on for a config without any', () => {
    const options = temporalConnectionOptions({ address: 'temporal.internal:7233', namespace: 'default' }, dir, {
      EBB_TEMPORAL_TLS_CA: path.join(dir, 'env-ca.pem'),
      EBB_TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com',
    });
    expect(options.tls).toEqual({
      serverNameOverride: 'temporal.example.com',
      serverRootCACertificate: pem('env-ca.pem'),
    });
  });

  test('an API key can come from a file, named in ebb.yaml or by EBB_TEMPORAL_API_KEY_FILE', () => {
    fs.writeFileSync(path.join(dir, 'api-key'), 'key-from-file\n');
    fs.writeFileSync(path.join(dir, 'empty-key'), '\n');
    const base = { address: 'a.tmprl.cloud:7233', namespace: 'a' };
    expect(temporalConnectionOptions({ ...base, apiKeyPath: 'api-key' }, dir, {})).toEqual({
      address: 'a.tmprl.cloud:7233',
      apiKey: 'key-from-file',
    });
    expect(
      temporalConnectionOptions(base, '/elsewhere', { EBB_TEMPORAL_API_KEY_FILE: path.join(dir, 'api-key') }).apiKey,
    ).toBe('key-from-file');
    expect(() => temporalConnectionOptions({ ...base, apiKeyPath: 'empty-key' }, dir, {})).toThrow(
      new TemporalSettingError(
        'temporal.apiKeyPath',
        `temporal.apiKeyPath ${dir}/empty-key is empty: it should hold the API key`,
      ),
    );
    expect(() => temporalConnectionOptions({ ...base, apiKeyPath: 'missing' }, dir, {})).toThrow(
      /^cannot read temporal\.apiKeyPath .*missing: ENOENT/,
    );
  });

  test('half a key pair in the environment is refused, naming the variable that is missing', () => {
    expect(() =>
      temporalConnectionOptions(temporal, dir, { EBB_TEMPORAL_TLS_CERT: path.join(dir, 'env.pem') }),
    ).toThrow(
      'EBB_TEMPORAL_TLS_CERT is set but EBB_TEMPORAL_TLS_KEY is not: mTLS needs the certificate and its key, set both',
    );
  });

  test('an unreadable or non-PEM certificate file is refused, naming the setting and the file', () => {
    fs.writeFileSync(path.join(dir, 'ca.der'), Buffer.from([0x30, 0x82, 0x01]));
    expect(() =>
      temporalConnectionOptions({ ...temporal, tls: { serverRootCaCertPath: 'missing.pem' } }, dir, {}),
    ).toThrow(TemporalTlsFileError);
    expect(() =>
      temporalConnectionOptions({ ...temporal, tls: { serverRootCaCertPath: 'missing.pem' } }, dir, {}),
    ).toThrow(`cannot read temporal.tls.serverRootCaCertPath ${dir}/missing.pem: ENOENT`);
    expect(() => temporalConnectionOptions(temporal, dir, { EBB_TEMPORAL_TLS_CA: path.join(dir, 'ca.der') })).toThrow(
      `cannot read EBB_TEMPORAL_TLS_CA ${dir}/ca.der: not a PEM file`,
    );
  });

  test('without TLS settings an API key alone is passed on (the SDKs turn TLS on), and tls: false keeps it off', () => {
    const base = { address: 'a:7233', namespace: 'default' };
    expect(temporalConnectionOptions(base, '/', {})).toEqual({ address: 'a:7233' });
    expect(temporalConnectionOptions({ ...base, apiKey: 'k' }, '/', {})).toEqual({ address: 'a:7233', apiKey: 'k' });
    expect(temporalConnectionOptions({ ...base, apiKey: 'k', tls: false }, '/', {})).toEqual({
      address: 'a:7233',
      apiKey: 'k',
      tls: false,
    });
  });

  test('a connection the server closes when no client certificate was sent asks for one, however the close surfaces', () => {
    temporalConnectionOptions({ ...temporal, tls: { serverRootCaCertPath: 'ca.pem' } }, dir, {});
    // What rustls and grpc-js have reported for a TLS 1.3 server's late certificate_required alert.
    const closes = [
      'Failed to call GetSystemInfo: transport error: connection closed before message completed',
      'Failed to call GetSystemInfo: transport error: hyper::Error(Io, Custom { kind: BrokenPipe, error: "stream closed because of a broken pipe" })',
      'read ECONNRESET',
      '14 UNAVAILABLE: No connection established. Last error: socket hang up',
    ];
    for (const reason of closes) {
      const reported = new TemporalUnreachableError(temporal.address, 'config', 5000, new Error(reason));
      expect(reported.message).toContain(
        'the server requires a client certificate (mTLS): set temporal.tls.clientCertPath and clientKeyPath',
      );
    }
    // With a client certificate sent, a closed connection is not blamed on a missing one.
    temporalConnectionOptions(
      {
        ...temporal,
        tls: { serverRootCaCertPath: 'ca.pem', clientCertPath: 'client.pem', clientKeyPath: 'client.key' },
      },
      dir,
      {},
    );
    const withCert = new TemporalUnreachableError(temporal.address, 'config', 5000, new Error(closes[1]));
    expect(withCert.message).not.toContain('requires a client certificate');
  });

  test('an unreadable certificate reported by the CLI keeps its own message instead of "cannot reach"', () => {
    let thrown: unknown;
    try {
      temporalConnectionOptions({ ...temporal, tls: { serverRootCaCertPath: 'missing.pem' } }, dir, {});
    } catch (err) {
      thrown = err;
    }
    const reported = new TemporalUnreachableError(temporal.address, 'config', 5000, thrown);
    expect(reported.name).toBe('TemporalTlsFileError');
    expect(reported.message).toMatch(/^cannot read temporal\.tls\.serverRootCaCertPath .*missing\.pem: ENOENT/);
  });
});
