/**
 * Options for both Temporal connections a process makes (the client's `Connection` and the workers'
 * `NativeConnection`), from ebb.yaml's `temporal:` block with the environment taking precedence:
 *
 *   temporal:
 *     address: temporal.internal:7233
 *     namespace: data-platform
 *     tls:                                   # mTLS against a private CA
 *       serverRootCaCertPath: ./certs/ca.pem
 *       serverName: temporal.internal        # when the address's host is not a name in its certificate
 *       clientCertPath: ./certs/ebb.pem
 *       clientKeyPath: ./certs/ebb.key
 *     apiKey: ${TEMPORAL_API_KEY}            # Temporal Cloud; or apiKeyPath: ./secrets/temporal-api-key
 *
 * Paths in ebb.yaml are relative to it; paths in the environment are relative to the working
 * directory. Secrets never sit in the YAML: certificates and keys are files, an API key comes from
 * `${VAR}`, EBB_TEMPORAL_API_KEY or a file (config/literal-secrets.ts refuses a literal one).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalConfig } from '../config/schema';

/** The environment variables that replace the `temporal:` block's connection settings. */
export const TEMPORAL_CONNECTION_ENVIRONMENT = {
  EBB_TEMPORAL_TLS_CERT: 'temporal.tls.clientCertPath',
  EBB_TEMPORAL_TLS_KEY: 'temporal.tls.clientKeyPath',
  EBB_TEMPORAL_TLS_CA: 'temporal.tls.serverRootCaCertPath',
  EBB_TEMPORAL_TLS_SERVER_NAME: 'temporal.tls.serverName',
  EBB_TEMPORAL_API_KEY: 'temporal.apiKey',
  EBB_TEMPORAL_API_KEY_FILE: 'temporal.apiKeyPath',
} as const;

type EnvName = keyof typeof TEMPORAL_CONNECTION_ENVIRONMENT;
type Env = Readonly<Record<string, string | undefined>>;

/** A certificate or key file named by the Temporal settings could not be read, or is not PEM. */
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

/** A Temporal connection setting that cannot be used as given (an API key file, half a key pair). */
export class TemporalSettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemporalSettingError';
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

/**
 * What the last connection options computed for an address put into effect, named by setting, so a
 * failed connection can say which TLS settings to check. The CLI computes the options and reports
 * a failure for the same address within one process, one connection setup at a time.
 */
const tlsInEffect = new Map<string, string>();

/**
 * A TLS failure in words, with the setting that fixes it. rustls (the workers' connection) names
 * the cause; grpc-js (the client's) only says that it gave up waiting.
 */
function tlsReason(reason: string, host: string, settings: string): string | null {
  const presented = /presented: \[([^\]]*)\]/.exec(reason)?.[1]?.match(/DnsName\(\\?"([^"\\]+)/g);
  if (/NotValidForName/.test(reason)) {
    const names = (presented ?? []).map((name) => name.replace(/^DnsName\(\\?"/, ''));
    return (
      `the server's certificate is not for ${host}${names.length ? ` (it is for ${names.join(', ')})` : ''}: ` +
      'set temporal.tls.serverName (or EBB_TEMPORAL_TLS_SERVER_NAME) to a name in the certificate'
    );
  }
  if (/UnknownIssuer|BadSignature|unable to verify|self[- ]signed/i.test(reason))
    return (
      "the server's certificate is not signed by a CA ebb trusts: set temporal.tls.serverRootCaCertPath " +
      "(or EBB_TEMPORAL_TLS_CA) to the PEM file of the CA that signed the server's certificate"
    );
  // TLS 1.3 sends the server's certificate_required alert after the handshake, so a client that
  // sent no certificate may see only the connection closing before it reads the alert, or a broken
  // pipe when its first request goes out after the server closed.
  const closedWithoutClientCert =
    !settings.includes('client certificate') &&
    !settings.includes('API key') &&
    /connection closed|operation was cancell?ed|ECONNRESET|socket hang up|broken pipe|EPIPE/i.test(reason);
  if (/CertificateRequired|certificate required/i.test(reason) || closedWithoutClientCert)
    return (
      'the server requires a client certificate (mTLS): set temporal.tls.clientCertPath and clientKeyPath ' +
      '(or EBB_TEMPORAL_TLS_CERT and EBB_TEMPORAL_TLS_KEY)'
    );
  if (/UnknownCA|unknown ca|BadCertificate|bad certificate|CertificateUnknown|certificate unknown/i.test(reason))
    return (
      "the server refused ebb's client certificate: temporal.tls.clientCertPath (or EBB_TEMPORAL_TLS_CERT) " +
      'must be signed by a CA the server trusts for clients'
    );
  return null;
}

/** No Temporal frontend answered at the address the CLI chose, or it refused ebb's TLS settings. */
export class TemporalUnreachableError extends Error {
  constructor(
    readonly address: string,
    readonly source: AddressSource,
    timeoutMs: number | null,
    cause: unknown,
  ) {
    // The options themselves could not be built (an unreadable certificate): that is the message.
    if (cause instanceof TemporalTlsFileError || cause instanceof TemporalSettingError) {
      super(cause.message, { cause });
      this.name = cause.name;
      return;
    }
    const reason =
      cause instanceof Error ? (cause.cause instanceof Error ? cause.cause : cause).message : String(cause);
    const tls = tlsInEffect.get(address);
    const host = address.replace(/:\d+$/, '');
    const explained = tls ? tlsReason(reason, host, tls) : null;
    const advice = explained
      ? `  ${explained}`
      : tls
        ? `  TLS is on (${tls}): if ${address} is right, check that the CA signed the server's certificate, ` +
          'that the server name is one in it, and that the server accepts the client certificate'
        : '  start a local one with `npm run dev` (or `npx ebb dev`), or point ebb at yours with ' +
          '--temporal-address host:port, EBB_TEMPORAL_ADDRESS or temporal.address in ebb.yaml';
    super(
      `cannot reach Temporal at ${address} (${ADDRESS_SOURCES[source]})` +
        `${timeoutMs === null ? '' : ` within ${timeoutMs / 1000}s`}` +
        `${tls ? ' over TLS' : ''}: ${reason.split('\n')[0]}\n${advice}`,
      { cause },
    );
    this.name = 'TemporalUnreachableError';
  }
}

type TlsOption = NonNullable<ConnectionOptions['tls']>;
type TlsSettings = Exclude<TlsOption, boolean>;

/** A setting's value and the name a person would change it under. */
interface FromSetting {
  value: string;
  /** `EBB_TEMPORAL_TLS_CA` or `temporal.tls.serverRootCaCertPath`. */
  setting: string;
  /** The value as a path, resolved against the working directory or ebb.yaml's directory. */
  file: string;
}

function readPem(from: FromSetting): Buffer {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(from.file);
  } catch (err) {
    throw new TemporalTlsFileError(from.setting, from.file, (err as Error).message);
  }
  if (!pem.includes('-----BEGIN '))
    throw new TemporalTlsFileError(
      from.setting,
      from.file,
      'not a PEM file (convert DER with `openssl x509 -inform der`)',
    );
  return pem;
}

function readApiKey(from: FromSetting): string {
  let key: string;
  try {
    key = fs.readFileSync(from.file, 'utf8').trim();
  } catch (err) {
    throw new TemporalSettingError(from.setting, `cannot read ${from.setting} ${from.file}: ${(err as Error).message}`);
  }
  if (!key)
    throw new TemporalSettingError(from.setting, `${from.setting} ${from.file} is empty: it should hold the API key`);
  return key;
}

/** Each connection setting from the environment when set there (non-empty), else from ebb.yaml. */
function resolveSettings(temporal: TemporalConfig, baseDir: string, env: Env) {
  const yaml = typeof temporal.tls === 'object' ? temporal.tls : undefined;
  const fromEnv = (name: EnvName): FromSetting | undefined => {
    const value = env[name];
    return value ? { value, setting: name, file: path.resolve(value) } : undefined;
  };
  const fromYaml = (setting: EnvName, value: string | undefined): FromSetting | undefined =>
    value
      ? { value, setting: TEMPORAL_CONNECTION_ENVIRONMENT[setting], file: path.resolve(baseDir, value) }
      : undefined;
  const pick = (name: EnvName, value: string | undefined) => fromEnv(name) ?? fromYaml(name, value);

  const envCert = fromEnv('EBB_TEMPORAL_TLS_CERT');
  const envKey = fromEnv('EBB_TEMPORAL_TLS_KEY');
  if (Boolean(envCert) !== Boolean(envKey)) {
    const [set, unset] = envCert
      ? ['EBB_TEMPORAL_TLS_CERT', 'EBB_TEMPORAL_TLS_KEY']
      : ['EBB_TEMPORAL_TLS_KEY', 'EBB_TEMPORAL_TLS_CERT'];
    throw new TemporalSettingError(
      unset,
      `${set} is set but ${unset} is not: mTLS needs the certificate and its key, set both`,
    );
  }
  return {
    // The pair comes from one place, so a certificate is never matched with another one's key.
    clientCert: envCert ?? fromYaml('EBB_TEMPORAL_TLS_CERT', yaml?.clientCertPath),
    clientKey: envKey ?? fromYaml('EBB_TEMPORAL_TLS_KEY', yaml?.clientKeyPath),
    serverCa: pick('EBB_TEMPORAL_TLS_CA', yaml?.serverRootCaCertPath),
    serverName: pick('EBB_TEMPORAL_TLS_SERVER_NAME', yaml?.serverName),
    apiKey: pick('EBB_TEMPORAL_API_KEY', temporal.apiKey),
    apiKeyFile: pick('EBB_TEMPORAL_API_KEY_FILE', temporal.apiKeyPath),
  };
}

export function temporalConnectionOptions(
  temporal: TemporalConfig,
  baseDir: string,
  env: Env = process.env,
): ConnectionOptions & NativeConnectionOptions {
  const s = resolveSettings(temporal, baseDir, env);
  // An API key given as a value (env or ${VAR}) wins over one in a file, the environment over ebb.yaml.
  const apiKeyFrom = env.EBB_TEMPORAL_API_KEY
    ? s.apiKey
    : env.EBB_TEMPORAL_API_KEY_FILE
      ? s.apiKeyFile
      : (s.apiKey ?? s.apiKeyFile);
  const apiKey = apiKeyFrom === s.apiKey ? s.apiKey?.value : apiKeyFrom ? readApiKey(apiKeyFrom) : undefined;

  const settings: TlsSettings = {};
  const inEffect: string[] = [];
  if (s.serverName) {
    settings.serverNameOverride = s.serverName.value;
    inEffect.push(`server name ${s.serverName.value} from ${s.serverName.setting}`);
  }
  if (s.serverCa) {
    settings.serverRootCACertificate = readPem(s.serverCa);
    inEffect.push(`CA ${s.serverCa.file} from ${s.serverCa.setting}`);
  }
  if (s.clientCert && s.clientKey) {
    settings.clientCertPair = { crt: readPem(s.clientCert), key: readPem(s.clientKey) };
    inEffect.push(`client certificate ${s.clientCert.file} from ${s.clientCert.setting}`);
  }
  const anySetting = Object.keys(settings).length > 0;
  // `tls: false` keeps TLS off even with an API key (a plaintext proxy); any TLS setting turns it on.
  const tls: TlsOption | undefined = anySetting
    ? settings
    : temporal.tls === undefined
      ? undefined
      : temporal.tls !== false;
  // Both SDKs turn TLS on when an API key is given and `tls` is left unset.
  const tlsOn = anySetting || tls === true || (tls === undefined && apiKey !== undefined);
  if (tlsOn) {
    if (apiKey) inEffect.push(`API key from ${apiKeyFrom?.setting}`);
    tlsInEffect.set(temporal.address, inEffect.length ? inEffect.join(', ') : "the system's CAs");
  } else tlsInEffect.delete(temporal.address);
  return {
    address: temporal.address,
    ...(tls !== undefined ? { tls } : {}),
    ...(apiKey ? { apiKey } : {}),
  };
}
