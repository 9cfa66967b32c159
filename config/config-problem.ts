/** Problems found in an ebb.yaml, and the error that carries all of them at once. */

export interface ConfigProblem {
  /** Dotted path into the config, e.g. `syncs.accounts-to-sf.mapping.helth`; '' for the whole file. */
  path: string;
  /** 1-based position in the YAML file, when the path (or its nearest parent) exists there. */
  line?: number;
  column?: number;
  message: string;
  /** What to change to fix it. */
  hint?: string;
}

/** A problem before it is placed in the file: the path as segments. */
export interface UnplacedProblem {
  path: (string | number)[];
  message: string;
  hint?: string;
}

/** `<file>:<line>:<col> <path>: <message>` plus an indented hint line, as editors and terminals link them. */
export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  const subject = problem.path === '' ? '' : ` ${problem.path}:`;
  const hint = problem.hint ? `\n  hint: ${problem.hint}` : '';
  return `${where}${subject} ${problem.message}${hint}`;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    const count = `${problems.length} ${problems.length === 1 ? 'error' : 'errors'}`;
    super(`${file} is not a valid ebb config (${count}):\n${problems.map((p) => formatProblem(file, p)).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A command named a sync the config does not define. */
export class UnknownSyncError extends Error {
  constructor(
    readonly syncId: string,
    hint: string,
  ) {
    super(`Unknown sync '${syncId}': ${hint}`);
    this.name = 'UnknownSyncError';
  }
}
