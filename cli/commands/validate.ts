/** `ebb validate`: every config problem at once, each with its place in the file and a fix. */
import { ExitError } from '../exit-error';
import { formatProblem } from '../../config/config-problem';
import { loadConfig } from '../../config/load-config';
import { placeProblems } from '../../config/yaml-locations';
import { warnAboutLocalAddresses } from '../local-address-warnings';
import { checkDestinationsOnline } from '../online-checks';
import { checkConfigAgainstWarehouse } from '../../activities/check-model-columns';
import path from 'node:path';

export interface ValidateOptions {
  file: string;
  /** Print `{ ok, problems, summary }` instead of text. */
  json?: boolean;
  /** Also ask each destination whether the config matches it (objects, fields, channels). */
  online?: boolean;
}

const OFFLINE_NOTE =
  'note: destinations were not asked (credentials, objects, fields, external ids, channels): ebb validate --online checks them';

export async function validateCommand(options: ValidateOptions): Promise<void> {
  const loaded = loadConfig(options.file);
  const { config } = loaded;
  // With the file itself valid, check it against the warehouse too (model SQL, filters, columns).
  const checked = config
    ? await checkConfigAgainstWarehouse(config, path.dirname(path.resolve(options.file)))
    : { problems: loaded.problems, unreachable: [] };
  const online =
    config && options.online
      ? await checkDestinationsOnline(config, path.dirname(path.resolve(options.file)))
      : { problems: [], unchecked: [] };
  const problems = placeProblems(options.file, [...checked.problems, ...online.problems]);
  if (config) warnAboutLocalAddresses(config);
  // An unreachable warehouse is not a mistake in the file, but the user must know what went unchecked.
  for (const { source, reason } of checked.unreachable) {
    process.stderr.write(`note: source '${source}' could not be reached, so its models were not checked: ${reason}
`);
  }
  for (const { sync, destination, reason } of online.unchecked) {
    process.stderr.write(`note: destination '${destination}' of sync '${sync}' could not be checked: ${reason}\n`);
  }
  if (config && !options.online) process.stderr.write(`${OFFLINE_NOTE}\n`);
  const summary =
    config && problems.length === 0
      ? {
          sources: Object.keys(config.sources).length,
          destinations: Object.keys(config.destinations).length,
          models: Object.keys(config.models).length,
          syncs: Object.keys(config.syncs).length,
        }
      : null;

  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          ok: problems.length === 0,
          problems,
          unreachable: checked.unreachable,
          ...(options.online ? { unchecked: online.unchecked } : {}),
          summary,
        },
        null,
        2,
      )}\n`,
    );
  } else if (summary) {
    process.stdout.write(
      `ok: ${summary.sources} sources, ${summary.destinations} destinations, ${summary.models} models, ${summary.syncs} syncs\n`,
    );
  } else {
    for (const problem of problems) process.stdout.write(`${formatProblem(options.file, problem)}\n`);
    process.stdout.write(`${problems.length} ${problems.length === 1 ? 'error' : 'errors'}\n`);
  }
  if (problems.length > 0) throw new ExitError(1);
}
