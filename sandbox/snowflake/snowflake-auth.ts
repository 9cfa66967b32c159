/**
 * Login checks as Snowflake makes them: a password, or a key-pair JWT (`AUTHENTICATOR:
 * SNOWFLAKE_JWT`, `TOKEN`) signed RS256 by the user's private key, whose claims name the account and
 * user in upper case and the public key by its SHA-256 fingerprint:
 *
 *   iss: 'ACCOUNT.USER.SHA256:<base64 sha256 of the DER SPKI public key>'   sub: 'ACCOUNT.USER'
 *
 * The Node driver writes `iat`/`exp` in milliseconds (Snowflake documents seconds); both are accepted.
 */
import * as crypto from 'node:crypto';

export interface SandboxUser {
  username: string;
  password?: string;
  /** PEM public key (SPKI) registered as the user's RSA_PUBLIC_KEY. */
  publicKey?: string;
}

export interface LoginData {
  ACCOUNT_NAME?: unknown;
  LOGIN_NAME?: unknown;
  PASSWORD?: unknown;
  AUTHENTICATOR?: unknown;
  TOKEN?: unknown;
}

export type LoginCheck = { ok: true; user: SandboxUser } | { ok: false; reason: 'credentials' | 'jwt' };

export function checkLogin(data: LoginData, account: string, users: SandboxUser[]): LoginCheck {
  const accountName = typeof data.ACCOUNT_NAME === 'string' ? data.ACCOUNT_NAME : '';
  const loginName = typeof data.LOGIN_NAME === 'string' ? data.LOGIN_NAME : '';
  const user = users.find((candidate) => candidate.username.toUpperCase() === loginName.toUpperCase());
  const isJwt = String(data.AUTHENTICATOR ?? '').toUpperCase() === 'SNOWFLAKE_JWT';
  if (accountName.toUpperCase() !== account.toUpperCase() || user === undefined) {
    return { ok: false, reason: isJwt ? 'jwt' : 'credentials' };
  }
  if (isJwt) {
    const valid =
      typeof data.TOKEN === 'string' &&
      user.publicKey !== undefined &&
      jwtIsValid(data.TOKEN, user.publicKey, `${account}.${user.username}`.toUpperCase());
    return valid ? { ok: true, user } : { ok: false, reason: 'jwt' };
  }
  const valid = user.password !== undefined && data.PASSWORD === user.password;
  return valid ? { ok: true, user } : { ok: false, reason: 'credentials' };
}

export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = crypto.createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  return `SHA256:${crypto.createHash('sha256').update(der).digest('base64')}`;
}

function jwtIsValid(token: string, publicKeyPem: string, subject: string): boolean {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) return false;
  const signed = crypto.verify(
    'RSA-SHA256',
    Buffer.from(`${header}.${payload}`),
    crypto.createPublicKey(publicKeyPem),
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) return false;
  let claims: { iss?: unknown; sub?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return false;
  }
  const expiresMs = typeof claims.exp === 'number' ? (claims.exp > 1e12 ? claims.exp : claims.exp * 1000) : 0;
  return (
    claims.sub === subject &&
    claims.iss === `${subject}.${publicKeyFingerprint(publicKeyPem)}` &&
    expiresMs > Date.now()
  );
}
