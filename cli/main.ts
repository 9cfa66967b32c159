/**
 * The `ebb` CLI: every command, its help and its options in one table; handlers receive parsed
 * options, never argv. Only this file (and bin/ebb.js) ends the process.
 *
 * A command's handler, with the heavy modules it needs (Temporal's worker, DuckDB, jsforce, the
 * state store), is loaded only when that command runs, so `ebb --help` starts in a fraction of a
 * second. The loading is `require`, not `import()`: tsc and jest turn `import()` into `require`
 * anyway, but tsx's CommonJS hook (bin/ebb.js without a build) leaves it a native ESM import, which
 * cannot resolve a .ts file.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy handlers, see above */
import { Command, InvalidArgumentError } from 'commander';
import { ExitError } from './exit-error';
import { DEFAULT_VERIFY_SAMPLE, VERIFY_DRIFT_EXIT_CODE } from './commands/verify-options';
import { useTemporalAddressFlag } from './temporal-connection';

const handlers = {
  dev: () => require('./dev-environment') as typeof import('./dev-environment'),
  inspect: () => require('./commands/inspect') as typeof import('./commands/inspect'),
  pause: () => require('./commands/pause') as typeof import('./commands/pause'),
  plan: () => require('./commands/plan') as typeof import('./commands/plan'),
  prune: () => require('./commands/prune') as typeof import('./commands/prune'),
  run: () => require('./commands/run') as typeof import('./commands/run'),
  status: () => require('./commands/status') as typeof import('./commands/status'),
  upgradeCheck: () => require('./commands/upgrade-check') as typeof import('./commands/upgrade-check'),
  validate: () => require('./commands/validate') as typeof import('./commands/validate'),
  verify: () => require('./commands/verify') as typeof import('./commands/verify'),
  worker: () => require('./commands/worker') as typeof import('./commands/worker'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

const queueList = (value: string): string[] => {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError("expected names such as 'engine,salesforce'");
  return names;
};

export function buildProgram(): Command {
  const program: Command = new Command('ebb')
    .description('Reverse ETL on Temporal: sync modelled warehouse rows to Salesforce, Slack and more.')
    .option('-c, --config <file>', 'ebb.yaml to use (env EBB_CONFIG)', process.env.EBB_CONFIG ?? 'ebb.yaml')
    .option(
      '--temporal-address <host:port>',
      'Temporal frontend (else EBB_TEMPORAL_ADDRESS, temporal.address in ebb.yaml, a running `ebb dev`, 127.0.0.1:7233)',
    )
    .hook('preAction', (): void => useTemporalAddressFlag(program.opts<{ temporalAddress?: string }>().temporalAddress))
    .showHelpAfterError();
  const config = (): string => program.opts<{ config: string }>().config;

  program
    .command('validate [file]')
    .description('check ebb.yaml and report every problem at once')
    .option('--json', 'machine-readable output')
    .option('--online', 'also ask each destination: credentials, objects, fields, external ids, channels')
    .action(async (file: string | undefined, o: { json?: boolean; online?: boolean }) =>
      handlers.validate().validateCommand({ file: file ?? config(), json: o.json, online: o.online }),
    );

  program
    .command('worker')
    .description('run the engine worker and one worker per destination (until Ctrl-C)')
    .option(
      '--queues <names>',
      "serve only these queues: comma-separated destination names, plus 'engine' for the engine queue (controllers, runs, plan/finish)",
      queueList,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ebb worker                             # every queue\n  ebb worker --queues engine,salesforce  # the engine and Salesforce deliveries\n  ebb worker --queues salesforce,slack   # deliveries only',
    )
    .action(async (o: { queues?: string[] }) =>
      handlers.worker().workerCommand({ config: config(), queues: o.queues }),
    );

  program
    .command('run <sync>')
    .description('request a run of a sync (incremental unless --full)')
    .option('--full', 'full resync: send every row again')
    .option('--wait', 'wait for the run, with a progress bar, and print its results')
    .option('--allow-deletes', 'mirror mode: confirm that this run may delete more records than maxDeletes allows')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nExamples:\n  ebb run accounts-to-sf --wait\n  ebb run accounts-to-sf --allow-deletes --wait',
    )
    .action(async (sync: string, o: { full?: boolean; wait?: boolean; allowDeletes?: boolean; json?: boolean }) =>
      handlers.run().runCommand({
        config: config(),
        sync,
        kind: o.full ? 'full' : 'incremental',
        wait: o.wait,
        allowDeletes: o.allowDeletes,
        json: o.json,
      }),
    );

  program
    .command('resync <sync>')
    .description('full resync: forget what was sent and send every row again')
    .option('--wait', 'wait for the run and print its results')
    .option('--allow-deletes', 'mirror mode: confirm that this run may delete more records than maxDeletes allows')
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { wait?: boolean; allowDeletes?: boolean; json?: boolean }) =>
      handlers
        .run()
        .runCommand({ config: config(), sync, kind: 'full', wait: o.wait, allowDeletes: o.allowDeletes, json: o.json }),
    );

  program
    .command('replay <sync>')
    .description(
      're-send the failed records of a run (latest run with failures unless --run), with current warehouse values',
    )
    .option('--run <n>', 'the run whose failures to replay', positiveInt)
    .option('--wait', 'wait for the run and print its results')
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { run?: number; wait?: boolean; json?: boolean }) =>
      handlers
        .run()
        .runCommand({ config: config(), sync, kind: 'replay', runNumber: o.run, wait: o.wait, json: o.json }),
    );

  program
    .command('plan <sync>')
    .description('dry run: what a run would add, change and remove, with samples; sends nothing')
    .option('--full', 'plan a full resync')
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { full?: boolean; json?: boolean }) =>
      handlers.plan().planCommand({ config: config(), sync, ...o }),
    );

  program
    .command('verify <sync>')
    .description(
      `read a sample of delivered records back from the destination and report drift: records missing, fields changed behind ebb's back (exit ${VERIFY_DRIFT_EXIT_CODE} when found)`,
    )
    .option('--sample <n>', 'how many delivered records to check, chosen at random', positiveInt, DEFAULT_VERIFY_SAMPLE)
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  ebb verify accounts-to-sf --sample 1000')
    .action(async (sync: string, o: { sample: number; json?: boolean }) =>
      handlers.verify().verifyCommand({ config: config(), sync, ...o }),
    );

  program
    .command('status [sync]')
    .description('state of every sync (or one): paused, running, last run, overdue; answers without a worker')
    .option('--json', 'machine-readable output')
    .action(async (sync: string | undefined, o: { json?: boolean }) =>
      handlers.status().statusCommand({ config: config(), sync, json: o.json }),
    );

  program
    .command('runs <sync>')
    .description('run history: counts, duration, requests, failures')
    .option('--limit <n>', 'how many runs (latest first)', positiveInt, 20)
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { limit: number; json?: boolean }) =>
      handlers.inspect().runsCommand({ config: config(), sync, ...o }),
    );

  program
    .command('records <sync>')
    .description('per-record results of a run (the latest run with records unless --run)')
    .option('--run <n>', 'run number', positiveInt)
    .option('--failed', 'only failed records')
    .option('--limit <n>', 'at most this many (a cut list says so)', positiveInt, 1000)
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  ebb records accounts-to-sf --failed')
    .action(async (sync: string, o: { run?: number; failed?: boolean; limit: number; json?: boolean }) =>
      handlers.inspect().recordsCommand({ config: config(), sync, ...o }),
    );

  program
    .command('prune [sync]')
    .description(
      'apply state.retention now: delete per-record results it no longer keeps (every sync, or one) and give the space back; workers also do it after each run',
    )
    .option('--dry-run', 'count what would be deleted; delete nothing')
    .option('--vacuum', 'SQLite: rewrite the store file once (VACUUM) so free pages go back to the disk from then on')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  ebb prune --dry-run\n  ebb prune accounts-to-sf\n  ebb prune --vacuum')
    .action(async (sync: string | undefined, o: { dryRun?: boolean; vacuum?: boolean; json?: boolean }) =>
      handlers.prune().pruneCommand({ config: config(), sync, ...o }),
    );

  program
    .command('pause <sync>')
    .description('stop scheduled runs until resume')
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { json?: boolean }) =>
      handlers.pause().pauseCommand({ config: config(), sync, paused: true, json: o.json }),
    );
  program
    .command('resume <sync>')
    .description('resume a paused sync')
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { json?: boolean }) =>
      handlers.pause().pauseCommand({ config: config(), sync, paused: false, json: o.json }),
    );

  program
    .command('upgrade-check')
    .description(
      "replay this deployment's open workflows against this ebb's workflow code: run it with a new release before rolling the workers",
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExit code 1 when a workflow does not replay; see docs/upgrading.md.')
    .action(async (o: { json?: boolean }) =>
      handlers.upgradeCheck().upgradeCheckCommand({ config: config(), json: o.json }),
    );

  program
    .command('dev')
    .description(
      'run a local Temporal dev server (with UI), the Salesforce and Slack sandboxes, the demo warehouse and a worker',
    )
    .action(async () => handlers.dev().devCommand());

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof ExitError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      return err.code;
    }
    const e = err as Error;
    // Our typed errors (ConfigError, UnknownSyncError, ...) carry an actionable message: show just that.
    if (e && typeof e.name === 'string' && /Error$/.test(e.name) && e.name !== 'Error' && e.name !== 'TypeError') {
      process.stderr.write(`${e.name}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(
      `${e?.stack ?? String(err)}\nThis looks like a bug in ebb; please report it with the output above.\n`,
    );
    return 70;
  }
}

/**
 * Ends the process with `code` once stdout and stderr have drained: a pipe (`ebb records --json | jq`)
 * takes 64 KiB at a time, and exiting at once would drop whatever is still queued. A reader that
 * went away (`| head`) wants nothing more.
 */
export function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(code);
    });
    stream.write('', done);
  }
}

if (require.main === module) {
  main(process.argv).then(exitAfterOutput, () => exitAfterOutput(70));
}
