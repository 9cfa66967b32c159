/**
 * The OAuth 2.0 JWT bearer grant of the Salesforce sandbox (API-CONTRACTS SF-1, RFC 7523): the
 * assertion is an RS256 JWT signed with the key whose certificate the connected app holds, with
 * iss = the app's consumer key, sub = a pre-authorised username, aud = the login host, exp ahead.
 * Checked with Node's crypto against the public key the sandbox is configured with; refusals use
 * Salesforce's error bodies (`{error, error_description}`, HTTP 400).
 *
 *   const sf = await startSalesforceSandbox({ jwt: { publicKey, username: 'etl@acme.example' } });
 */
import { verify } from 'node:crypto';

export interface SalesforceJwtSettings {
  /** PEM public key (or certificate) of the connected app; assertions must verify against it. */
  publicKey: string;
  /** The user pre-authorised for the app (default integration@ebb.example). */
  username?: string;
  /** Accepted `aud` values besides the sandbox's own URL. */
  audiences?: string[];
}

export interface OAuthRefusal {
  error: string;
  error_description: string;
}

export const defaultJwtUsername = 'integration@ebb.example';

function decodePart(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The username the assertion logs in as, or Salesforce's refusal of it. */
export function checkJwtAssertion(
  assertion: string | null,
  expected: { clientId: string; audiences: string[]; settings: SalesforceJwtSettings; now?: number },
): { username: string } | OAuthRefusal {
  const invalid = { error: 'invalid_grant', error_description: 'invalid assertion' };
  const parts = (assertion ?? '').split('.');
  if (parts.length !== 3) return invalid;
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = decodePart(headerPart);
  const claims = decodePart(claimsPart);
  if (!header || !claims || header.alg !== 'RS256') return invalid;
  // The consumer key picks the connected app, and with it the certificate to verify against.
  if (claims.iss !== expected.clientId)
    return { error: 'invalid_client_id', error_description: 'client identifier invalid' };
  let signed = false;
  try {
    signed = verify(
      'RSA-SHA256',
      Buffer.from(`${headerPart}.${claimsPart}`),
      expected.settings.publicKey,
      Buffer.from(signaturePart, 'base64url'),
    );
  } catch {
    signed = false;
  }
  if (!signed) return invalid;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const accepted = [...expected.audiences, ...(expected.settings.audiences ?? [])].map((a) => a.replace(/\/$/, ''));
  if (!audiences.some((aud) => typeof aud === 'string' && accepted.includes(aud.replace(/\/$/, '')))) {
    return { error: 'invalid_grant', error_description: 'audience is invalid' };
  }
  const now = Math.floor((expected.now ?? Date.now()) / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) {
    return { error: 'invalid_grant', error_description: 'expired authorization code' };
  }
  const username = expected.settings.username ?? defaultJwtUsername;
  if (typeof claims.sub !== 'string' || claims.sub.toLowerCase() !== username.toLowerCase()) {
    return { error: 'invalid_grant', error_description: "user hasn't approved this consumer" };
  }
  return { username };
}
