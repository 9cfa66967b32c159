/**
 * The `ebb` CLI: every command, its help and its options in one table; handlers receive parsed
 * options, never argv. Only this file (and bin/ebb.js) ends the process.
 *
 * Handlers are imported eagerly: bin/ebb.js runs TypeScript through tsx's CommonJS hook, under
 * which a lazy `import()` of a .ts file is not resolvable.
 */
import { Command, InvalidArgumentError } from 'commander';
import { devCommand } from './dev-environment';
import { ExitError } from './exit-error';
import { recordsCommand, runsCommand, statusCommand } from './commands/inspect';
import { pauseCommand } from './commands/pause';
import { planCommand } from './commands/plan';
import { runCommand } from './commands/run';
import { validateCommand } from './commands/validate';
import { DEFAULT_VERIFY_SAMPLE, VERIFY_DRIFT_EXIT_CODE, verifyCommand } from './commands/verify';
import { workerCommand } from './commands/worker';

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
  const program = new Command('ebb')
    .description('Reverse ETL on Temporal: sync modelled warehouse rows to Salesforce, Slack and more.')
    .option('-c, --config <file>', 'ebb.yaml to use (env EBB_CONFIG)', process.env.EBB_CONFIG ?? 'ebb.yaml')
    .showHelpAfterError();
  const config = (): string => program.opts<{ config: string }>().config;

  program
    .command('validate [file]')
    .description('check ebb.yaml and report every problem at once')
    .option('--json', 'machine-readable output')
    .action(async (file: string | undefined, o: { json?: boolean }) =>
      validateCommand({ file: file ?? config(), json: o.json }),
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
    .action(async (o: { queues?: string[] }) => workerCommand({ config: config(), queues: o.queues }));

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
      runCommand({
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
      runCommand({ config: config(), sync, kind: 'full', wait: o.wait, allowDeletes: o.allowDeletes, json: o.json }),
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
      runCommand({ config: config(), sync, kind: 'replay', runNumber: o.run, wait: o.wait, json: o.json }),
    );

  program
    .command('plan <sync>')
    .description('dry run: what a run would add, change and remove, with samples; sends nothing')
    .option('--full', 'plan a full resync')
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { full?: boolean; json?: boolean }) =>
      planCommand({ config: config(), sync, ...o }),
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
      verifyCommand({ config: config(), sync, ...o }),
    );

  program
    .command('status [sync]')
    .description('state of every sync (or one): paused, running, last run, overdue')
    .option('--json', 'machine-readable output')
    .action(async (sync: string | undefined, o: { json?: boolean }) =>
      statusCommand({ config: config(), sync, json: o.json }),
    );

  program
    .command('runs <sync>')
    .description('run history: counts, duration, requests, failures')
    .option('--limit <n>', 'how many runs', positiveInt, 20)
    .option('--json', 'machine-readable output')
    .action(async (sync: string, o: { limit: number; json?: boolean }) =>
      runsCommand({ config: config(), sync, ...o }),
    );

  program
    .command('records <sync>')
    .description('per-record results of a run (latest unless --run)')
    .option('--run <n>', 'run number', positiveInt)
    .option('--failed', 'only failed records')
    .option('--limit <n>', 'at most this many', positiveInt, 1000)
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  ebb records accounts-to-sf --failed')
    .action(async (sync: string, o: { run?: number; failed?: boolean; limit: number; json?: boolean }) =>
      recordsCommand({ config: config(), sync, ...o }),
    );

  program
    .command('pause <sync>')
    .description('stop scheduled runs until resume')
    .action(async (sync: string) => pauseCommand({ config: config(), sync, paused: true }));
  program
    .command('resume <sync>')
    .description('resume a paused sync')
    .action(async (sync: string) => pauseCommand({ config: config(), sync, paused: false }));

  program
    .command('dev')
    .description(
      'run a local Temporal dev server (with UI), the Salesforce and Slack sandboxes, the demo warehouse and a worker',
    )
    .action(async () => devCommand());

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

if (require.main === module) {
  main(process.argv).then(
    (code) => process.exit(code),
    () => process.exit(70),
  );
}
