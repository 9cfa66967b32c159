/**
 * Test helpers for the real Temporal dev server started by global-setup: a client, and a Worker on a
 * unique task queue per test, shut down explicitly (avoids sdk-typescript#928 open handles).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';

/** Worker state changes are logged at INFO; tests show warnings and errors only. */
export function quietWorkerLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier test file in this jest worker process.
  }
}

export function temporalAddress(): string {
  const address = process.env.EBB_TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error('EBB_TEST_TEMPORAL_ADDRESS is not set: run tests through jest (global-setup starts the server)');
  return address;
}

export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

export async function connectClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection }), close: () => connection.close() };
}

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

export async function startWorker(options: Partial<WorkerOptions> & { taskQueue?: string }): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  const taskQueue = options.taskQueue ?? uniqueTaskQueue();
  const bundle = process.env.EBB_TEST_WORKFLOW_BUNDLE;
  const worker = await Worker.create({
    connection,
    ...(bundle ? { workflowBundle: { codePath: bundle } } : {}),
    ...options,
    taskQueue,
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
