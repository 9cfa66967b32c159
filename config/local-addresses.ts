/**
 * Destination URLs that point at this machine: the addresses of the Salesforce and Slack sandboxes
 * that `ebb dev` starts. A production config that falls back to one (an unset SLACK_API_URL behind
 * `${SLACK_API_URL-http://127.0.0.1:8788/api/}`) would deliver into a sandbox, or nowhere, without
 * an error, so `ebb validate` and `ebb worker` warn about them.
 *
 *   localAddressWarnings(config, { devUrls: [] })
 *   // ["destinations.slack.apiUrl is http://127.0.0.1:8788/api/, a sandbox address on this machine, ..."]
 */
import type { EbbConfig } from './schema';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '0.0.0.0']);

export interface LocalAddress {
  /** Dotted config path, e.g. `destinations.slack.apiUrl`. */
  path: string;
  url: string;
}

function isLocalUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  const host = url.hostname.toLowerCase();
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    (LOOPBACK_HOSTS.has(host) || host.startsWith('127.') || host.endsWith('.localhost'))
  );
}

/** Every string setting of a destination (at any depth) that is an http(s) URL on this machine. */
export function localDestinationAddresses(config: EbbConfig): LocalAddress[] {
  const found: LocalAddress[] = [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (isLocalUrl(value)) found.push({ path, url: value });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, `${path}.${key}`);
    }
  };
  for (const [name, connection] of Object.entries(config.destinations)) visit(connection, `destinations.${name}`);
  return found;
}

/**
 * One warning per local destination address, except those of the running `ebb dev` environment
 * (`devUrls`, the sandbox URLs it published), where a sandbox is the point.
 */
export function localAddressWarnings(config: EbbConfig, options: { devUrls: readonly string[] }): string[] {
  return localDestinationAddresses(config)
    .filter(({ url }) => !options.devUrls.includes(url))
    .map(
      ({ path, url }) =>
        `${path} is ${url}, a sandbox address on this machine, and no \`ebb dev\` serves it: ` +
        'outside ebb dev, set it (or the variable it comes from) to the real service',
    );
}
