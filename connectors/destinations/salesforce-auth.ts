/**
 * How ebb obtains a Salesforce session for a destination connection. Three ways, as `auth:`:
 *
 *   auth: { clientId: ${SF_CLIENT_ID}, clientSecret: ${SF_CLIENT_SECRET} }          # client credentials
 *   auth: { clientId: ${SF_CLIENT_ID}, username: etl@acme.com,                       # OAuth 2.0 JWT bearer
 *           privateKeyFile: ./keys/ebb.key }        # or privateKey: ${SF_JWT_PRIVATE_KEY}
 *   auth: { accessToken: ${SF_ACCESS_TOKEN} }                                        # a token in hand
 *
 * The first two can be renewed by ebb when Salesforce answers INVALID_SESSION_ID (the session in
 * salesforce-session.ts asks for a new token); a given access token cannot.
 *
 * The JWT bearer flow signs a short-lived RS256 assertion (iss = the connected app's consumer key,
 * sub = the user, aud = the login host, exp) with the private key whose certificate is uploaded to
 * the connected app, and trades it for a token at `{loginUrl}/services/oauth2/token`. Salesforce
 * issues no refresh token for it, so renewal means signing a fresh assertion.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from 'jsforce';
import { z } from 'zod';
import { FatalDestinationError, TransientDestinationError } from './destination';
import { countRequest } from './request-counter';

const clientCredentialsSchema = z.strictObject({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});

const jwtBearerSchema = z.strictObject({
  clientId: z.string().min(1).describe("The connected app's consumer key (the JWT's iss)"),
  username: z.string().min(1).describe('The Salesforce user ebb acts as (the JWT sub), pre-authorised for the app'),
  privateKey: z
    .string()
    .min(1)
    .optional()
    .describe('PEM private key from the environment, e.g. ${SF_JWT_PRIVATE_KEY}; never the key itself in YAML'),
  privateKeyFile: z.string().min(1).optional().describe('Path of a PEM private key file, relative to ebb.yaml'),
  audience: z
    .url()
    .optional()
    .describe('The JWT aud; defaults to https://login.salesforce.com, or https://test.salesforce.com for sandboxes'),
});

const accessTokenSchema = z.strictObject({ accessToken: z.string().min(1) });

export const salesforceAuthSchema = z.union([clientCredentialsSchema, jwtBearerSchema, accessTokenSchema], {
  error:
    'auth must be { clientId, clientSecret } (client credentials flow of a connected app), ' +
    '{ clientId, username, privateKeyFile or privateKey } (JWT bearer flow) or { accessToken }',
});

export type SalesforceAuth = z.infer<typeof salesforceAuthSchema>;
export type JwtBearerAuth = z.infer<typeof jwtBearerSchema>;

export function isJwtBearer(auth: SalesforceAuth): auth is JwtBearerAuth {
  return 'username' in auth;
}

/** Problems zod's union cannot see: a JWT auth needs exactly one source for its key. */
export function jwtKeyProblem(auth: SalesforceAuth): { path: string[]; message: string } | null {
  if (!isJwtBearer(auth)) return null;
  if (auth.privateKey === undefined && auth.privateKeyFile === undefined) {
    return {
      path: ['auth', 'privateKeyFile'],
      message:
        'JWT bearer auth needs the private key: set privateKeyFile to a PEM file, or privateKey to ${SOME_ENV_VAR} holding it',
    };
  }
  if (auth.privateKey !== undefined && auth.privateKeyFile !== undefined) {
    return {
      path: ['auth', 'privateKey'],
      message: 'Set either privateKey or privateKeyFile, not both',
    };
  }
  return null;
}

export interface SalesforceAuthTarget {
  loginUrl?: string | undefined;
  instanceUrl?: string | undefined;
  apiVersion: string;
  auth: SalesforceAuth;
  /** Directory relative key files are read from (the directory of ebb.yaml). */
  baseDir?: string | undefined;
}

/** OAuth error codes that mean the configuration is wrong, not that the service is struggling. */
const credentialErrors = new Set([
  'invalid_client_id',
  'invalid_client',
  'invalid_grant',
  'invalid_app_access',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_request',
  'inactive_user',
  'inactive_org',
]);

const jwtBearerGrant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Salesforce accepts assertions that expire within a few minutes; three is what its docs show. */
const assertionLifetimeSeconds = 180;

type Jsforce = typeof import('jsforce');
type Jwt = typeof import('jsonwebtoken');
/* eslint-disable @typescript-eslint/no-require-imports -- loaded when a session first connects, like jsforce */
const jsforce = (): Jsforce => require('jsforce') as Jsforce;
const jsonwebtoken = (): Jwt => require('jsonwebtoken') as Jwt;
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * A connected jsforce Connection for `target`, one token request for the OAuth grants, none for a
 * given access token. `subject` names the config at fault in errors ("destination 'salesforce'").
 * Throws FatalDestinationError when Salesforce refuses the credentials, TransientDestinationError
 * when the token endpoint cannot answer now.
 */
export async function openSalesforceConnection(target: SalesforceAuthTarget, subject: string): Promise<Connection> {
  const { auth, apiVersion: version } = target;
  if ('accessToken' in auth) {
    return new (jsforce().Connection)({ instanceUrl: target.instanceUrl, accessToken: auth.accessToken, version });
  }
  const loginUrl = (target.loginUrl ?? target.instanceUrl) as string;
  const jwt = isJwtBearer(auth);
  const conn = new (jsforce().Connection)({
    oauth2: jwt ? { loginUrl, clientId: auth.clientId } : { loginUrl, ...auth },
    version,
  });
  // Signed before the request, so a missing or unreadable key is reported as such, not as a refusal.
  const params: { grant_type: string; [name: string]: string } = jwt
    ? { grant_type: jwtBearerGrant, assertion: signAssertion(auth, loginUrl, target.baseDir, subject) }
    : { grant_type: 'client_credentials' };
  try {
    countRequest();
    await conn.authorize(params);
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    const detail = err instanceof Error ? err.message : String(err);
    if (credentialErrors.has(name)) {
      throw new FatalDestinationError(
        jwt
          ? jwtRefusal(auth, subject, loginUrl, name, detail)
          : clientCredentialsRefusal(subject, loginUrl, name, detail),
        { cause: err },
      );
    }
    // Anything else (5xx, throttling, a dropped connection) is the token endpoint having trouble.
    throw new TransientDestinationError(
      `Could not obtain a Salesforce session from ${loginUrl}: ${detail || name || 'no response'}`,
      { cause: err },
    );
  }
  return conn;
}

function clientCredentialsRefusal(subject: string, loginUrl: string, name: string, detail: string): string {
  const domainHint = /not supported on this domain/i.test(detail)
    ? ' The client credentials flow only works on your My Domain URL (https://<domain>.my.salesforce.com): set loginUrl to it.'
    : '';
  return (
    `Salesforce refused the client credentials of ${subject} at ${loginUrl} (${name}: ${detail}). ` +
    `Fix auth.clientId / auth.clientSecret (the connected app's consumer key and secret) ` +
    `and check that the connected app enables the client credentials flow with a run-as user.${domainHint}`
  );
}

function jwtRefusal(auth: JwtBearerAuth, subject: string, loginUrl: string, name: string, detail: string): string {
  const hints: Array<[RegExp, string]> = [
    [
      /approved|admin/i,
      `pre-authorise user ${auth.username} for the connected app (admin-approved users, a profile or permission set)`,
    ],
    [
      /audience/i,
      `set auth.audience to the login host Salesforce expects (https://login.salesforce.com or https://test.salesforce.com)`,
    ],
    [/expired/i, `check this machine's clock: the assertion's exp must still be ahead for Salesforce`],
    [/client identifier/i, `set auth.clientId to the connected app's consumer key`],
  ];
  const hint =
    hints.find(([pattern]) => pattern.test(detail))?.[1] ??
    `check that the certificate uploaded to the connected app matches the private key, and that auth.username is the user's login name`;
  return `Salesforce refused the JWT bearer assertion of ${subject} at ${loginUrl} (${name}: ${detail}): ${hint}.`;
}

/** Salesforce's own hosts want their login host as aud; any other host (a local sandbox) its own origin. */
export function defaultAudience(loginUrl: string): string {
  const host = new URL(loginUrl).hostname;
  if (host === 'test.salesforce.com' || host.endsWith('.sandbox.my.salesforce.com'))
    return 'https://test.salesforce.com';
  if (host.endsWith('salesforce.com') || host.endsWith('force.com')) return 'https://login.salesforce.com';
  return new URL(loginUrl).origin;
}

function signAssertion(auth: JwtBearerAuth, loginUrl: string, baseDir: string | undefined, subject: string): string {
  const key = privateKeyOf(auth, baseDir, subject);
  try {
    return jsonwebtoken().sign(
      {
        iss: auth.clientId,
        sub: auth.username,
        aud: auth.audience ?? defaultAudience(loginUrl),
        exp: Math.floor(Date.now() / 1000) + assertionLifetimeSeconds,
      },
      key,
      { algorithm: 'RS256' },
    );
  } catch (err) {
    throw new FatalDestinationError(
      `The JWT private key of ${subject} cannot sign an RS256 assertion (${(err as Error).message}). ` +
        `auth.privateKey / auth.privateKeyFile must hold an RSA private key in PEM form ("-----BEGIN PRIVATE KEY-----")`,
      { cause: err },
    );
  }
}

function privateKeyOf(auth: JwtBearerAuth, baseDir: string | undefined, subject: string): string {
  if (auth.privateKey !== undefined) {
    // CI secrets often hold a PEM on one line with literal \n.
    return auth.privateKey.includes('\\n') ? auth.privateKey.replace(/\\n/g, '\n') : auth.privateKey;
  }
  const file = path.resolve(baseDir ?? process.cwd(), auth.privateKeyFile as string);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new FatalDestinationError(
      `Cannot read the JWT private key of ${subject} from auth.privateKeyFile ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). ` +
        'Point privateKeyFile at the PEM key (relative to ebb.yaml) whose certificate the connected app holds',
      { cause: err },
    );
  }
}
