/**
 * One client of the benchmark in a process of its own, so its CPU time and peak RSS are its own:
 * `node -r tsx/cjs bench/client-process.ts '<ClientJob as JSON>'`. The clock and the CPU count start
 * after the modules are loaded (and, for the ceiling, after the bodies are serialised); the last line
 * on stdout is the ClientResult as JSON.
 */
import { performance } from 'node:perf_hooks';
import { collectionsBaseline, COLLECTION_SIZE, perRecordBaseline } from './baseline-scripts';
import type { ClientJob, ClientResult } from './client-runs';
import { prepareCeiling, runCeiling } from './sandbox-ceiling';

async function work(job: ClientJob): Promise<() => Promise<number>> {
  if (job.kind === 'collections') return () => collectionsBaseline(job.target);
  if (job.kind === 'per-record') return () => perRecordBaseline(job.target);
  const prepared = await prepareCeiling(job.target, job.batchSize ?? COLLECTION_SIZE);
  return () => runCeiling(prepared, job.concurrency ?? 1);
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as ClientJob;
  const timed = await work(job);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const records = await timed();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const result: ClientResult = {
    records,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    // maxRSS is in kilobytes.
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
