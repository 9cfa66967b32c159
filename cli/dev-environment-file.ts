/**
 * `.ebb/dev.json`: where a running `ebb dev` (`npm run dev`) says what it started (its Temporal
 * address, its config, the sandboxes' variables), so the CLI in another terminal finds it without
 * exports. Written when the environment is up, removed when it stops; a file whose process is gone
 * is ignored. Kept free of heavy imports: every CLI command reads it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const DEV_ENVIRONMENT_FILE = path.join('.ebb', 'dev.json');

const devEnvironmentSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  config: z.string(),
  temporal: z.object({ address: z.string(), namespace: z.string(), uiUrl: z.string() }),
  /** Variables the config reads (sandbox URLs and their local-only credentials, the demo folder). */
  env: z.record(z.string(), z.string()),
});

export type DevEnvironmentFile = z.infer<typeof devEnvironmentSchema>;

/** The folder holding package.json: the repository in a checkout, the package when installed. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
}

export function writeDevEnvironmentFile(root: string, content: DevEnvironmentFile): string {
  const file = path.join(root, DEV_ENVIRONMENT_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // The sandboxes' credentials are local-only, but still nobody else's to read.
  fs.writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export function removeDevEnvironmentFile(root: string, pid: number = process.pid): void {
  const file = path.join(root, DEV_ENVIRONMENT_FILE);
  // Another `ebb dev` may have started since and written its own.
  if (readFile(file)?.pid === pid) fs.rmSync(file, { force: true });
}

function readFile(file: string): DevEnvironmentFile | null {
  try {
    const parsed = devEnvironmentSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The running dev environment, looked for in the working directory's `.ebb/` and then in ebb's own
 * (where `npm run dev` writes it), with the file it was read from; null when none runs.
 */
export function findDevEnvironment(
  cwd: string = process.cwd(),
  root: string = packageRoot(),
): { file: string; dev: DevEnvironmentFile } | null {
  for (const dir of new Set([path.resolve(cwd), root])) {
    const file = path.join(dir, DEV_ENVIRONMENT_FILE);
    const dev = readFile(file);
    if (dev && isAlive(dev.pid)) return { file, dev };
  }
  return null;
}
