/**
 * Silent waits (issue 9): `ebb run --wait` always says what it waits for (a paused sync, a Temporal
 * outage it rides out), and `ebb status` shows why a run is retrying and which attempt it is on.
 */
import net from 'node:net';
import { ebb as runEbb, startEbb } from './harness/ebb-cli';
import { startEngine, type EngineHarness } from './harness/engine';
import { salesforceSyncYaml } from './harness/sync-yaml';

let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const cli = (e: EngineHarness, args: string[], env: Record<string, string> = {}) =>
  runEbb(['--config', e.configFile, ...args], { env: { ...e.env, ...env } });

/**
 * A TCP proxy to the Temporal server that the test can cut and restore, so the CLI behind it sees
 * an outage while the workers (connected directly) go on.
 */
async function temporalProxy(target: string) {
  const [host = '127.0.0.1', port = '7233'] = target.split(':');
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let listenPort = 0;
  const open = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(port), host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
    listenPort = (server.address() as net.AddressInfo).port;
  };
  await open();
  return {
    address: () => `127.0.0.1:${listenPort}`,
    async cut() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
    restore: open,
  };
}

test('run --wait on a paused sync says it waits for resume, then finishes once resumed', async () => {
  engine = await startEngine({ generated: 4, syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`) });
  const e = engine;
  const sync = `sf-${e.suffix}`;
  expect((await cli(e, ['pause', sync])).code).toBe(0);

  const waiting = startEbb(['--config', e.configFile, 'run', sync, '--wait'], { env: e.env });
  await waiting.waitForOutput(
    new RegExp(`${sync} is paused: the run starts once it is resumed \\(\`ebb resume ${sync}\`\\)`),
  );
  expect((await cli(e, ['resume', sync])).code).toBe(0);
  const result = await waiting.done;
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('run 1 (incremental) succeeded: 8 records changed');
});

test('run --wait rides out a Temporal outage, saying so, and reports the run that went on', async () => {
  engine = await startEngine({ generated: 4, syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`) });
  const e = engine;
  const sync = `sf-${e.suffix}`;
  const proxy = await temporalProxy(e.env.EBB_TEMPORAL_ADDRESS as string);
  // Paused, so the run is still ahead when Temporal goes away.
  expect((await cli(e, ['pause', sync])).code).toBe(0);
  const waiting = startEbb(['--config', e.configFile, 'run', sync, '--wait'], {
    env: { ...e.env, EBB_TEMPORAL_ADDRESS: proxy.address() },
  });
  await waiting.waitForOutput(/is paused/);

  await proxy.cut();
  await waiting.waitForOutput(/Temporal stopped answering .*the run goes on/);
  // The run goes on without the CLI: resumed directly, it runs to the end during the outage.
  expect((await cli(e, ['resume', sync])).code).toBe(0);
  await proxy.restore();

  const result = await waiting.done;
  expect(result.stderr).toContain('Temporal answers again; still waiting');
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('run 1 (incremental) succeeded');
});

test('ebb status shows why a run cannot reach its destination and which attempt it is on', async () => {
  // No workers in this process: `ebb worker` runs with a Salesforce address where nothing listens.
  engine = await startEngine({
    generated: 4,
    workers: false,
    syncsYaml: ({ suffix }) => salesforceSyncYaml(`sf-${suffix}`),
  });
  const e = engine;
  const sync = `sf-${e.suffix}`;
  const worker = startEbb(['--config', e.configFile, 'worker'], {
    env: { ...e.env, SF_LOGIN_URL: 'http://127.0.0.1:9' },
  });
  try {
    await worker.waitForOutput(/worker on/);
    expect((await cli(e, ['run', sync])).code).toBe(0);
    const deadline = Date.now() + 60_000;
    let status = await cli(e, ['status', sync]);
    while (!/retrying \S+ \(attempt [2-9]/.test(status.stdout) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      status = await cli(e, ['status', sync]);
    }
    expect(status.stdout).toMatch(/retrying \S+ \(attempt [2-9]\d*\): .*(ECONNREFUSED|127\.0\.0\.1:9)/);
    const json = JSON.parse((await cli(e, ['status', sync, '--json'])).stdout) as Array<{
      retry: { attempt: number; reason: string } | null;
    }>;
    expect(json[0]?.retry).toMatchObject({ attempt: expect.any(Number), reason: expect.any(String) });
  } finally {
    worker.child.kill('SIGTERM');
    await worker.done;
  }
});
