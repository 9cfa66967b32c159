/** Warnings for destination URLs on this machine when no running `ebb dev` published them (config/local-addresses.ts). */
import { localAddressWarnings } from '../config/local-addresses';
import type { EbbConfig } from '../config/schema';
import { findDevEnvironment } from './dev-environment-file';

/** Writes one `warning:` line per local destination address to stderr, where piped output does not hide it. */
export function warnAboutLocalAddresses(config: EbbConfig): void {
  const devUrls = Object.values(findDevEnvironment()?.dev.env ?? {});
  for (const warning of localAddressWarnings(config, { devUrls })) process.stderr.write(`warning: ${warning}\n`);
}
