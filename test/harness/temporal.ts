/**
 * Test helpers for the real Temporal dev server started by global-setup: a client, and a Worker on a
 * unique task queue per test, shut down explicitly (avoids sdk-typescript#928 open handles).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
export { quietTemporalLogs as quietWorkerLogs } from '../../cli/runtime-logging';

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
