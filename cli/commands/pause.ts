/** `ebb pause|resume <sync>`: a paused sync ignores scheduled triggers and holds manual requests until resumed. */
import { resolveSync } from '../../config/load-config';
import { pauseSignal, resumeSignal } from '../../workflows/definitions';
import { connectClient, loadCliContext } from '../cli-context';
import { printJson, say } from '../output';
import { ensureController } from '../sync-control';

export async function pauseCommand(options: {
  config?: string;
  sync: string;
  paused: boolean;
  json?: boolean;
}): Promise<void> {
  const ctx = loadCliContext(options.config);
  resolveSync(ctx.config, options.sync);
  const { client, close } = await connectClient(ctx);
  try {
    const handle = await ensureController(client, options.sync, ctx.names);
    await handle.signal(options.paused ? pauseSignal : resumeSignal, {});
    if (options.json) printJson({ sync: options.sync, paused: options.paused });
    else say(`${options.sync} ${options.paused ? 'paused' : 'resumed'}`);
  } finally {
    await close();
  }
}
