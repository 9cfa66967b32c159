/**
 * Temporal unreachable (issue 9): the CLI names the address it tried and where that address came
 * from, says how to start a Temporal, gives up within seconds, and shows no stack trace.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ebb } from './harness/ebb-cli';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ebb-cli-unreachable-'));
const SYNCS = `sources: { warehouse: { type: duckdb, path: ./warehouse.duckdb } }
destinations: { slack: { type: slack, token: xoxb-1 } }
models: { m: { source: warehouse, primaryKey: id, sql: select 1 as id } }
syncs: { s: { model: m, destination: slack, channel: '#c', template: 'row {{ id }}' } }
`;

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function writeConfig(name: string, temporalYaml = ''): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${temporalYaml}${SYNCS}`);
  return file;
}

function expectHelpfulFailure(result: { code: number | null; stderr: string; ms: number }, address: string) {
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`cannot reach Temporal at ${address}`);
  expect(result.stderr).toContain('npm run dev');
  expect(result.stderr).not.toMatch(/bug in ebb|\n\s+at /);
  // Gives up after its 5 s connection timeout: never hangs. The bound is loose because starting
  // the process through tsx takes seconds on a loaded 2-core machine.
  expect(result.ms).toBeLessThan(45_000);
}

test('ebb status with EBB_TEMPORAL_ADDRESS pointing nowhere names the address and the variable', async () => {
  const address = `127.0.0.1:${await closedPort()}`;
  const result = await ebb(['--config', writeConfig('env.yaml'), 'status'], {
    env: { EBB_TEMPORAL_ADDRESS: address },
  });
  expectHelpfulFailure(result, address);
  expect(result.stderr).toContain('from EBB_TEMPORAL_ADDRESS');
});

test('ebb run with --temporal-address pointing nowhere names the flag', async () => {
  const address = `127.0.0.1:${await closedPort()}`;
  const result = await ebb(['--config', writeConfig('flag.yaml'), '--temporal-address', address, 'run', 's'], {
    env: { EBB_TEMPORAL_ADDRESS: undefined },
  });
  expectHelpfulFailure(result, address);
  expect(result.stderr).toContain('from --temporal-address');
});

test("ebb pause with ebb.yaml's temporal.address pointing nowhere names that setting", async () => {
  const address = `127.0.0.1:${await closedPort()}`;
  const result = await ebb(
    ['--config', writeConfig('yaml.yaml', `temporal: { address: '${address}' }\n`), 'pause', 's'],
    {
      env: { EBB_TEMPORAL_ADDRESS: undefined },
    },
  );
  expectHelpfulFailure(result, address);
  expect(result.stderr).toContain("from ebb.yaml's temporal.address");
});
