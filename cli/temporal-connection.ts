/**
 * Options for both Temporal connections a process makes (the client's `Connection` and the workers'
 * `NativeConnection`), from ebb.yaml's `temporal:` block with the environment taking precedence:
 *
 *   temporal:
 *     address: ns.acct.tmprl.cloud:7233
 *     namespace: ns.acct
 *     apiKey: ${TEMPORAL_API_KEY}          # or mTLS:
 *     tls: { clientCertPath: ./certs/client.pem, clientKeyPath: ./certs/client.key }
 *
 * Paths in ebb.yaml are relative to it; EBB_TEMPORAL_TLS_CERT / EBB_TEMPORAL_TLS_KEY (relative to the
 * working directory) replace its client certificate, and EBB_TEMPORAL_API_KEY its API key.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalConfig } from '../config/schema';

/** A certificate or key file named by the Temporal settings could not be read. */
export class TemporalTlsFileError extends Error {
  constructor(
    readonly setting: string,
    readonly file: string,
    reason: string,
  ) {
    super(`cannot read ${setting} ${file}: ${reason}`);
    this.name = 'TemporalTlsFileError';
  }
}

type TlsOption = NonNullable<ConnectionOptions['tls']>;
type TlsSettings = Exclude<TlsOption, boolean>;

function readPem(setting: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new TemporalTlsFileError(setting, file, (err as Error).message);
  }
}

function tlsOption(
  temporal: TemporalConfig,
  baseDir: string,
  env: Readonly<Record<string, string | undefined>>,
): TlsOption | undefined {
  const fromFile = (p: string) => path.resolve(baseDir, p);
  const envCert = env.EBB_TEMPORAL_TLS_CERT;
  const envKey = env.EBB_TEMPORAL_TLS_KEY;
  const yaml = typeof temporal.tls === 'object' ? temporal.tls : undefined;
  if (!yaml && !(envCert && envKey)) return typeof temporal.tls === 'boolean' ? temporal.tls : undefined;

  const settings: TlsSettings = {};
  if (yaml?.serverName) settings.serverNameOverride = yaml.serverName;
  if (yaml?.serverRootCaCertPath)
    settings.serverRootCACertificate = readPem(
      'temporal.tls.serverRootCaCertPath',
      fromFile(yaml.serverRootCaCertPath),
    );
  if (envCert && envKey) {
    settings.clientCertPair = {
      crt: readPem('EBB_TEMPORAL_TLS_CERT', path.resolve(envCert)),
      key: readPem('EBB_TEMPORAL_TLS_KEY', path.resolve(envKey)),
    };
  } else if (yaml?.clientCertPath && yaml.clientKeyPath) {
    settings.clientCertPair = {
      crt: readPem('temporal.tls.clientCertPath', fromFile(yaml.clientCertPath)),
      key: readPem('temporal.tls.clientKeyPath', fromFile(yaml.clientKeyPath)),
    };
  }
  return settings;
}

export function temporalConnectionOptions(
  temporal: TemporalConfig,
  baseDir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConnectionOptions & NativeConnectionOptions {
  const apiKey = env.EBB_TEMPORAL_API_KEY || temporal.apiKey;
  const tls = tlsOption(temporal, baseDir, env);
  // Both SDKs turn TLS on when an API key is given and `tls` is left unset; `tls: false` keeps it off.
  return {
    address: temporal.address,
    ...(tls !== undefined ? { tls } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}
