/**
 * One scenario of the scale benchmark (bench/scale.ts): a fresh Temporal dev server and Salesforce
 * sandbox, an ebb.yaml of N syncs on one state store (SQLite, or a new PostgreSQL database), and
 * `ebb worker` processes started, left to run the scheduled syncs a few times, stopped (SIGTERM)
 * and started again, killed (SIGKILL) and started again, and stopped; `ebb status` timed with
 * workers and with none. Everything is driven through ebb's public faces: the CLI, Temporal's
 * visibility and histories, and the sandbox.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { parseEvery } from '../config/schedule';
import { startBenchEnvironment, type BenchEnvironment } from './bench-environment';
import type { EbbBuild } from './ebb-build';
import { spawnEbbWorker, timeEbbCommand, type EbbWorkerProcess } from './ebb-commands';
import { cpuSecondsOf, ProcessUsage } from './process-usage';
import { isScheduled, scaleConfig, syncIdOf } from './scale-config';
import { executionMs, workflowTasksSince, type WorkflowTask } from './workflow-tasks';

export class ScaleBenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ScenarioSpec {
  name: string;
  workers: number;
  state: 'sqlite' | 'postgres';
}

export interface ScaleSettings {
  syncs: number;
  every: string;
  /** Rounds of the scheduled syncs before the restarts. */
  rounds: number;
  /** Times each `ebb status` is measured. */
  statusRepeats: number;
  /** PostgreSQL server whose role may create databases (postgres scenario). */
  postgresUrl: string | null;
  /** DuckDB file with `syncs` shards of accounts. */
  warehouse: string;
  progress(text: string): void;
}

/** The target for a workflow task after a restart. */
export const SLOW_TASK_MS = 2000;
const DEPLOYMENT = 'scale';
/** README "Several deployments on one namespace": the engine's queue and ids of a named deployment. */
const TASK_QUEUE = `ebb-${DEPLOYMENT}`;
const controllerId = (syncId: string) => `${DEPLOYMENT}/sync/${syncId}`;
const SCHEDULE_PREFIX = `${DEPLOYMENT}/sync/`;
const SLOWEST_LISTED = 5;

export interface SalesforceRequests {
  /** OAuth token requests: logins. */
  logins: number;
  describes: number;
  total: number;
}

export interface TaskFigures {
  /** Workflow tasks the restarted (or newly started) workers started in the phase. */
  tasks: number;
  /** The longest one of those was held (started to completed, or to its timeout). */
  slowestMs: number;
  overTargetMs: number;
  /** Tasks held longer than SLOW_TASK_MS. */
  overTarget: number;
  /** START_TO_CLOSE timeouts of those tasks: a worker took longer than the workflow task timeout. */
  timedOut: number;
  /** SCHEDULE_TO_START timeouts: tasks left on a stopped worker's sticky queue, then rescheduled. */
  stickyTimeouts: number;
  failed: number;
  /** The longest wait from scheduled to started among tasks scheduled once the workers were ready. */
  slowestWaitMs: number;
  slowest: Array<{ workflowId: string; workflowType: string; ms: number; historyEventsBefore: number }>;
  /**
   * Tasks the workers before the restart had started and that ended only once they were stopped,
   * and how many of them ended by a timeout. A SIGKILLed worker never answers for the tasks it
   * held, so Temporal times each out after the workflow task timeout (10 s) and schedules it again;
   * that wait is the kill's, not replay by the restarted workers, so these are not counted above.
   * Workers stopped with SIGTERM drain: their tasks should complete, and none time out.
   */
  heldByStoppedWorkers: { tasks: number; timedOut: number };
}

/** Restart, then every scheduled sync ran once: what the restarted workers did, and what it cost. */
export interface RestartFigures {
  /** Restart (the first new worker spawned) to the last worker's `worker on ...` line. */
  readySeconds: number;
  /** Restart until every scheduled sync completed a run started after it. */
  roundSeconds: number;
  temporalCpuSeconds: number;
  tasks: TaskFigures;
  salesforce: SalesforceRequests;
}

export interface ScenarioResult {
  name: string;
  workers: number;
  state: 'sqlite' | 'postgres';
  syncs: number;
  scheduledSyncs: number;
  every: string;
  start: {
    /** Spawn to the last worker's `worker on ...` line (its workers polling, syncs reconciled). */
    readySeconds: number;
    /** Spawn until Temporal lists every controller running and every Schedule. */
    controllersRunningSeconds: number;
    /** Spawn until every controller has completed its first workflow task on a worker. */
    controllersServedSeconds: number;
    temporalCpuSeconds: number;
    workerCpuSeconds: number[];
    tasks: TaskFigures;
    salesforce: SalesforceRequests;
  };
  runs: {
    rounds: number;
    completed: number;
    failed: number;
    seconds: number;
    /** From spawn until every scheduled sync had run once: logins and describes the workers made. */
    firstRoundSalesforce: SalesforceRequests;
    /** Events in each controller's current history after the rounds, before the restarts. */
    controllerHistoryEvents: { median: number; max: number };
  };
  /** After the rounds: every worker stopped with SIGTERM (ebb worker drains), then started again. */
  gracefulRestart: RestartFigures & {
    /** SIGTERM to the last worker's exit; a worker still running after 30 s is SIGKILLed. */
    stopSeconds: number;
  };
  /** After the graceful restart's round: every worker SIGKILLed, then started again. */
  restart: RestartFigures;
  status: {
    allWithWorkersMs: number[];
    oneWithWorkersMs: number[];
    allWithoutWorkersMs: number[];
    oneWithoutWorkersMs: number[];
    /** Whether `ebb status` said that no worker polls once they were stopped. */
    saidNoWorker: boolean;
  };
  memory: {
    /** Each worker's resident memory once every controller was served. */
    rssAfterStartMb: number[];
    /** Each worker's peak over the first life (start and the rounds). */
    peakRssMb: number[];
    /** Each worker's resident memory once the round after the SIGKILL restart was over. */
    rssAfterRestartMb: number[];
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (fromMs: number, toMs: number) => (toMs - fromMs) / 1000;
const iso = (ms: number) => new Date(ms).toISOString();

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | null>, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new ScaleBenchError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function count(client: Client, query: string): Promise<number> {
  return (await client.workflow.count(query)).count;
}

async function countSchedules(client: Client): Promise<number> {
  let n = 0;
  for await (const schedule of client.schedule.list()) if (schedule.scheduleId.startsWith(SCHEDULE_PREFIX)) n++;
  return n;
}

function salesforceSince(env: BenchEnvironment, before: ReturnType<BenchEnvironment['salesforce']['stats']>) {
  const now = env.salesforce.stats();
  return {
    logins: now.tokenRequests - before.tokenRequests,
    describes: now.describeRequests - before.describeRequests,
    total: now.total - before.total,
  };
}

/** When the workers of a phase changed: the old ones stopped (or were killed), the new ones spawned and ready. */
export interface PhaseTimes {
  /** Epoch ms the old workers were stopped; at a first start, when the workers were spawned. */
  stoppedAt: number;
  /** Epoch ms the first new worker was spawned: tasks started from then on are the new workers'. */
  restartedAt: number;
  readyAt: number;
}

/**
 * The workflow tasks of one phase, split by who held them: tasks started from `restartedAt` on are
 * the new workers' and judged; tasks started before it that ended after `stoppedAt` were held by
 * the old workers and are only counted (TaskFigures.heldByStoppedWorkers says why).
 */
export function taskFigures(tasks: WorkflowTask[], times: PhaseTimes): TaskFigures {
  const { stoppedAt, restartedAt, readyAt } = times;
  const theirs = tasks.filter((t): t is WorkflowTask & { startedAt: number } => (t.startedAt ?? -1) >= restartedAt);
  const held = tasks.filter(
    (t) => t.startedAt !== null && t.startedAt < restartedAt && (t.endedAt === null || t.endedAt >= stoppedAt),
  );
  const startToClose = (t: WorkflowTask) => t.outcome === 'timed out' && t.timeoutType === 'START_TO_CLOSE';
  const timed = theirs
    .map((t) => ({ task: t, ms: executionMs(t) }))
    .filter((x): x is { task: WorkflowTask & { startedAt: number }; ms: number } => x.ms !== null)
    .sort((a, b) => b.ms - a.ms);
  const waits = theirs.filter((t) => t.scheduledAt >= readyAt).map((t) => t.startedAt - t.scheduledAt);
  return {
    tasks: theirs.length,
    slowestMs: timed[0]?.ms ?? 0,
    overTargetMs: SLOW_TASK_MS,
    overTarget: timed.filter((x) => x.ms > SLOW_TASK_MS).length,
    timedOut: theirs.filter(startToClose).length,
    // Never started, so no worker's: a sticky queue's task that timed out in the phase.
    stickyTimeouts: tasks.filter(
      (t) => t.outcome === 'timed out' && t.timeoutType === 'SCHEDULE_TO_START' && (t.endedAt ?? -1) >= restartedAt,
    ).length,
    failed: theirs.filter((t) => t.outcome === 'failed').length,
    slowestWaitMs: waits.length ? Math.max(...waits) : 0,
    slowest: timed.slice(0, SLOWEST_LISTED).map((x) => ({
      workflowId: x.task.workflowId,
      workflowType: x.task.workflowType,
      ms: x.ms,
      historyEventsBefore: x.task.historyEventsBefore,
    })),
    heldByStoppedWorkers: { tasks: held.length, timedOut: held.filter(startToClose).length },
  };
}

/** The target for a restart: no workflow task of the restarted workers over SLOW_TASK_MS, none timed out. */
export const meetsTaskTarget = (figures: TaskFigures): boolean => figures.overTarget === 0 && figures.timedOut === 0;

async function createDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ebb_scale_${Date.now().toString(36)}`;
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new PgClient({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function timeStatus(
  build: EbbBuild,
  configFile: string,
  env: Record<string, string>,
  args: string[],
  repeats: number,
  expectSyncs: number,
): Promise<{ ms: number[]; stderr: string }> {
  const ms: number[] = [];
  let stderr = '';
  for (let i = 0; i < repeats; i++) {
    const result = await timeEbbCommand(build, configFile, ['status', ...args, '--json'], env);
    const answered = (JSON.parse(result.stdout) as unknown[]).length;
    if (answered !== expectSyncs)
      throw new ScaleBenchError(`ebb status ${args.join(' ')} answered for ${answered} syncs, not ${expectSyncs}`);
    ms.push(result.ms);
    stderr = result.stderr;
  }
  return { ms, stderr };
}

export async function runScenario(
  spec: ScenarioSpec,
  settings: ScaleSettings,
  build: EbbBuild,
): Promise<ScenarioResult> {
  const { syncs, progress } = settings;
  const scheduled = Array.from({ length: syncs }, (_, i) => i).filter(isScheduled).length;
  const say = (text: string) => progress(`${spec.name}: ${text}`);
  say('starting a Temporal dev server and the Salesforce sandbox ...');
  const env = await startBenchEnvironment();
  const { client } = env;
  const database = spec.state === 'postgres' ? await createDatabase(settings.postgresUrl as string) : null;
  const workers: EbbWorkerProcess[] = [];
  try {
    const dir = path.join(env.dir, spec.name);
    fs.mkdirSync(dir, { recursive: true });
    const configFile = path.join(dir, 'ebb.yaml');
    fs.writeFileSync(
      configFile,
      scaleConfig({
        syncs,
        every: settings.every,
        deployment: DEPLOYMENT,
        temporal: { address: env.server.address, namespace: env.server.namespace },
        state: database ? { url: database.url } : { path: './state.sqlite' },
        warehouse: settings.warehouse,
      }),
    );
    const sfEnv = {
      SF_LOGIN_URL: env.salesforce.url,
      SF_CLIENT_ID: env.salesforce.clientId,
      SF_CLIENT_SECRET: env.salesforce.clientSecret,
    };
    const temporalPid = env.server.process.pid as number;
    const spawnWorkers = (life: string) =>
      Array.from({ length: spec.workers }, (_, n) =>
        spawnEbbWorker(build, {
          name: `${n + 1}`,
          configFile,
          logFile: path.join(dir, `worker-${n + 1}-${life}.log`),
          env: sfEnv,
        }),
      );
    const oneSync = syncIdOf(0, syncs);
    const controllers = `WorkflowType = 'syncController' AND ExecutionStatus = 'Running' AND TaskQueue = '${TASK_QUEUE}'`;
    const completedRuns = (extra = '') =>
      `WorkflowType = 'syncRun' AND ExecutionStatus = 'Completed' AND TaskQueue = '${TASK_QUEUE}'${extra}`;

    // Start: ebb worker until every controller is running and has been served once.
    say(`${spec.workers} ebb worker process(es), ${syncs} syncs (${scheduled} every ${settings.every}) ...`);
    const sfAtSpawn = env.salesforce.stats();
    const cpuAtSpawn = cpuSecondsOf(temporalPid);
    workers.push(...spawnWorkers('first'));
    const spawnedAt = Math.min(...workers.map((w) => w.spawnedAt));
    const usages = workers.map((w) => new ProcessUsage(w.pid));
    for (const u of usages) u.start();
    const startTimeout = 120_000 + syncs * 1000;
    const readyAt = Math.max(...(await Promise.all(workers.map((w) => w.ready))));
    say(`ready after ${seconds(spawnedAt, readyAt).toFixed(1)} s; waiting for every controller and Schedule ...`);
    const runningAt = await until('every controller running and every Schedule', startTimeout, async () =>
      (await count(client, controllers)) >= syncs && (await countSchedules(client)) >= scheduled ? Date.now() : null,
    );
    let startTasks: WorkflowTask[] = [];
    const servedAt = await until(
      'every controller to complete its first workflow task',
      startTimeout,
      async () => {
        startTasks = await workflowTasksSince(client, `TaskQueue = '${TASK_QUEUE}'`, spawnedAt);
        const firsts = new Map<string, number>();
        for (const t of startTasks)
          if (t.workflowType === 'syncController' && t.outcome === 'completed' && t.endedAt !== null)
            firsts.set(t.workflowId, Math.min(firsts.get(t.workflowId) ?? Infinity, t.endedAt));
        const expected = Array.from({ length: syncs }, (_, i) => controllerId(syncIdOf(i, syncs)));
        return expected.every((id) => firsts.has(id)) ? Math.max(...firsts.values()) : null;
      },
      2000,
    );
    const startEnd = Date.now();
    const start: ScenarioResult['start'] = {
      readySeconds: seconds(spawnedAt, readyAt),
      controllersRunningSeconds: seconds(spawnedAt, runningAt),
      controllersServedSeconds: seconds(spawnedAt, servedAt),
      temporalCpuSeconds: cpuSecondsOf(temporalPid) - cpuAtSpawn,
      workerCpuSeconds: workers.map((w) => cpuSecondsOf(w.pid)),
      // No workers before these: nothing started before the spawn.
      tasks: taskFigures(startTasks, { stoppedAt: spawnedAt, restartedAt: spawnedAt, readyAt }),
      salesforce: salesforceSince(env, sfAtSpawn),
    };
    const rssAfterStartMb = workers.map((w) => rssMb(w.pid));
    say(
      `controllers running after ${start.controllersRunningSeconds.toFixed(1)} s, served after ${start.controllersServedSeconds.toFixed(1)} s`,
    );

    // Rounds of the scheduled syncs; `ebb status` with the workers running after the first.
    const intervalMs = parseEvery(settings.every) ?? 60_000;
    const roundTimeout = 2 * intervalMs + 300_000;
    await until(`every scheduled sync to run once`, roundTimeout, async () =>
      (await count(client, completedRuns())) >= scheduled ? true : null,
    );
    const firstRoundSalesforce = salesforceSince(env, sfAtSpawn);
    say(
      `first round done (${firstRoundSalesforce.logins} logins, ${firstRoundSalesforce.describes} describes); ebb status ...`,
    );
    const allWith = await timeStatus(build, configFile, sfEnv, [], settings.statusRepeats, syncs);
    const oneWith = await timeStatus(build, configFile, sfEnv, [oneSync], settings.statusRepeats, 1);
    for (let round = 2; round <= settings.rounds; round++) {
      say(`round ${round} of ${settings.rounds} ...`);
      await until(`round ${round} of the scheduled syncs`, roundTimeout, async () =>
        (await count(client, completedRuns())) >= round * scheduled ? true : null,
      );
    }
    const historyEvents: number[] = [];
    // List results carry no history length on the dev server's visibility store; describe does.
    for await (const c of client.workflow.list({ query: controllers }))
      historyEvents.push((await client.workflow.getHandle(c.workflowId, c.runId).describe()).historyLength);
    historyEvents.sort((a, b) => a - b);
    const runs: ScenarioResult['runs'] = {
      rounds: settings.rounds,
      completed: await count(client, completedRuns()),
      failed: await count(
        client,
        `WorkflowType = 'syncRun' AND ExecutionStatus = 'Failed' AND TaskQueue = '${TASK_QUEUE}'`,
      ),
      seconds: seconds(startEnd, Date.now()),
      firstRoundSalesforce,
      controllerHistoryEvents: {
        median: historyEvents[Math.floor(historyEvents.length / 2)] ?? 0,
        max: historyEvents[historyEvents.length - 1] ?? 0,
      },
    };
    const peakRssMb = usages.map((u) => u.stop().peakRssMb);

    // A restart: stop every worker (SIGTERM, which ebb worker answers by draining, or SIGKILL), start
    // them again, and wait for a round of the scheduled syncs started after it.
    const restartWorkers = async (life: string, how: 'stop' | 'kill') => {
      const which = how === 'stop' ? 'graceful restart' : 'SIGKILL restart';
      const stoppedAt = Date.now();
      const cpuAtStop = cpuSecondsOf(temporalPid);
      await Promise.all(workers.map((w) => w[how]()));
      const stopSeconds = seconds(stoppedAt, Date.now());
      workers.length = 0;
      const sfAtRestart = env.salesforce.stats();
      workers.push(...spawnWorkers(life));
      const restartedAt = Math.min(...workers.map((w) => w.spawnedAt));
      const restartReadyAt = Math.max(...(await Promise.all(workers.map((w) => w.ready))));
      const roundDoneAt = await until(`a round of the scheduled syncs after the ${which}`, roundTimeout, async () =>
        (await count(client, completedRuns(` AND StartTime > '${iso(restartedAt)}'`))) >= scheduled ? Date.now() : null,
      );
      const temporalCpuSeconds = cpuSecondsOf(temporalPid) - cpuAtStop;
      const salesforce = salesforceSince(env, sfAtRestart);
      const rssAfterRoundMb = workers.map((w) => rssMb(w.pid));
      say(`reading the workflow histories since the ${which} ...`);
      const tasks = await workflowTasksSince(
        client,
        `TaskQueue = '${TASK_QUEUE}' AND (ExecutionStatus = 'Running' OR CloseTime > '${iso(stoppedAt)}')`,
        stoppedAt,
      );
      const figures: RestartFigures = {
        readySeconds: seconds(restartedAt, restartReadyAt),
        roundSeconds: seconds(restartedAt, roundDoneAt),
        temporalCpuSeconds,
        tasks: taskFigures(tasks, { stoppedAt, restartedAt, readyAt: restartReadyAt }),
        salesforce,
      };
      return { figures, stopSeconds, rssAfterRoundMb };
    };

    say(
      `stopping the workers with SIGTERM (controllers hold ${runs.controllerHistoryEvents.median} events, at most ${runs.controllerHistoryEvents.max}) and starting them again ...`,
    );
    const graceful = await restartWorkers('graceful', 'stop');
    const gracefulRestart: ScenarioResult['gracefulRestart'] = {
      ...graceful.figures,
      stopSeconds: graceful.stopSeconds,
    };
    say(
      `graceful restart: ${gracefulRestart.tasks.tasks} workflow tasks, the slowest ${gracefulRestart.tasks.slowestMs} ms; killing the workers (SIGKILL) and starting them again ...`,
    );
    // Its workers' logs keep the name they had before the graceful restart came first.
    const killed = await restartWorkers('restarted', 'kill');
    const restart = killed.figures;
    const rssAfterRestartMb = killed.rssAfterRoundMb;

    // `ebb status` once no worker polls: Temporal counts a poller as live for a while after it stops.
    say('stopping the workers; ebb status without them ...');
    await Promise.all(workers.map((w) => w.stop()));
    workers.length = 0;
    const saidNoWorker = await until(
      'ebb status to say that no worker polls',
      180_000,
      async () => {
        const { stderr } = await timeStatus(build, configFile, sfEnv, [oneSync], 1, 1);
        return /no worker polls/.test(stderr) ? true : null;
      },
      15_000,
    ).catch(() => false);
    const allWithout = await timeStatus(build, configFile, sfEnv, [], settings.statusRepeats, syncs);
    const oneWithout = await timeStatus(build, configFile, sfEnv, [oneSync], settings.statusRepeats, 1);
    return {
      name: spec.name,
      workers: spec.workers,
      state: spec.state,
      syncs,
      scheduledSyncs: scheduled,
      every: settings.every,
      start,
      runs,
      gracefulRestart,
      restart,
      status: {
        allWithWorkersMs: allWith.ms,
        oneWithWorkersMs: oneWith.ms,
        allWithoutWorkersMs: allWithout.ms,
        oneWithoutWorkersMs: oneWithout.ms,
        saidNoWorker,
      },
      memory: { rssAfterStartMb, peakRssMb, rssAfterRestartMb },
    };
  } catch (err) {
    // The scenario's folder goes with the environment: keep the workers' logs for whoever reads the error.
    const kept = fs.mkdtempSync(path.join(os.tmpdir(), `ebb-scale-${spec.name}-logs-`));
    const dir = path.join(env.dir, spec.name);
    for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : [])
      if (file.endsWith('.log') || file === 'ebb.yaml') fs.copyFileSync(path.join(dir, file), path.join(kept, file));
    say(`failed; the workers' logs are in ${kept}`);
    throw err;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await env.stop();
    await database?.drop();
  }
}
