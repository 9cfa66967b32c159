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

/** Where the Temporal address came from, named in messages so a person knows what to change. */
export type AddressSource = 'flag' | 'env' | 'config' | 'dev' | 'default';

const ADDRESS_SOURCES: Record<AddressSource, string> = {
  flag: 'from --temporal-address',
  env: 'from EBB_TEMPORAL_ADDRESS',
  config: "from ebb.yaml's temporal.address",
  dev: 'from the running `ebb dev` (.ebb/dev.json)',
  default:
    'the default: no --temporal-address, EBB_TEMPORAL_ADDRESS, temporal.address in ebb.yaml or running `ebb dev`',
};

let addressFlag: string | undefined;

/** `--temporal-address`, set by cli/main.ts before a command runs (it outranks every other source). */
export function useTemporalAddressFlag(address: string | undefined): void {
  addressFlag = address;
}

export function temporalAddressFlag(): string | undefined {
  return addressFlag;
}

/** No Temporal frontend answered at the address the CLI chose. */
export class TemporalUnreachableError extends Error {
  constructor(
    readonly address: string,
    readonly source: AddressSource,
    timeoutMs: number | null,
    cause: unknown,
  ) {
    const reason =
      cause instanceof Error ? (cause.cause instanceof Error ? cause.cause : cause).message : String(cause);
    super(
      `cannot reach Temporal at ${address} (${ADDRESS_SOURCES[source]})` +
        `${timeoutMs === null ? '' : ` within ${timeoutMs / 1000}s`}: ${reason.split('\n')[0]}\n` +
        '  start a local one with `npm run dev` (or `npx ebb dev`), or point ebb at yours with ' +
        '--temporal-address host:port, EBB_TEMPORAL_ADDRESS or temporal.address in ebb.yaml',
      { cause },
    );
    this.name = 'TemporalUnreachableError';
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
