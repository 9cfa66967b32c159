/** Turns zod issues into config problems a person can act on. */
import { z } from 'zod';
import { knownNamesHint } from './closest-name';
import type { UnplacedProblem } from './config-problem';

type Path = (string | number)[];

/**
 * Error map for every config parse: it notes on each unknown-keys issue the keys its object accepts,
 * so the problem can name the closest one. zod passes the raising schema to error maps only and
 * drops it from the issue it returns; `params` is copied over, so the keys travel there.
 *
 *   schema.safeParse(value, { error: noteKnownKeys })
 */
export const noteKnownKeys: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodObject) {
    const params = ('params' in issue ? issue.params : undefined) as Record<string, unknown> | undefined;
    Object.assign(issue, { params: { ...params, knownKeys: Object.keys(issue.inst.shape as object) } });
  }
  return undefined;
};

function valueAt(data: unknown, path: readonly (string | number)[]): unknown {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

function hintOf(issue: z.core.$ZodIssue): string | undefined {
  const params = 'params' in issue ? (issue.params as { hint?: unknown } | undefined) : undefined;
  return typeof params?.hint === 'string' ? params.hint : undefined;
}

// A union says only "Invalid input"; what each alternative missed tells the user which forms exist.
function alternativesHint(alternatives: readonly (readonly z.core.$ZodIssue[])[], value: unknown): string {
  const described = alternatives.map((issues) =>
    problemsFromZodIssues(issues, value)
      .map((problem) => (problem.path.length > 0 ? `${problem.path.join('.')}: ${problem.message}` : problem.message))
      .join(', '),
  );
  return `either ${described.join('; or ')}`;
}

/**
 * @param data   the value that was parsed, to tell a missing key from a wrong value
 * @param prefix where that value sits in the config
 */
export function problemsFromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  prefix: Path = [],
): UnplacedProblem[] {
  return issues.flatMap((issue): UnplacedProblem[] => {
    const relative: Path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
    const path = [...prefix, ...relative];
    const last = relative[relative.length - 1];
    const value = valueAt(data, relative);
    const hint = hintOf(issue);
    switch (issue.code) {
      case 'unrecognized_keys': {
        // Set by noteKnownKeys: a did-you-mean per key.
        const params = 'params' in issue ? (issue.params as { knownKeys?: unknown } | undefined) : undefined;
        const known = Array.isArray(params?.knownKeys) ? params.knownKeys.map(String) : undefined;
        return issue.keys.map((key) => ({
          path: [...path, key],
          message: `unknown key '${key}'`,
          hint: known ? knownNamesHint('keys', key, known) : (hint ?? 'remove it or check its spelling'),
        }));
      }
      case 'invalid_key': {
        const reason = issue.issues[0]?.message ?? issue.message;
        return [{ path, message: `'${String(last)}' is not a valid name: ${reason}` }];
      }
      case 'invalid_union':
        if ('options' in issue && Array.isArray(issue.options)) {
          const options = issue.options.map(String);
          return value === undefined
            ? [{ path, message: `missing required key '${String(last)}'`, hint: `one of: ${options.join(', ')}` }]
            : [
                {
                  path,
                  message: `unknown ${String(last)} '${String(value)}'`,
                  hint: knownNamesHint('values', String(value), options),
                },
              ];
        }
        return [
          { path, message: 'matches none of the accepted forms', hint: hint ?? alternativesHint(issue.errors, value) },
        ];
      case 'invalid_type':
        if (value === undefined && last !== undefined)
          return [{ path, message: `missing required key '${String(last)}'` }];
        if (value === null) {
          return [
            {
              path,
              message: `expected ${issue.expected}, but it is empty`,
              hint: 'give it a value, or remove the key',
            },
          ];
        }
        return [{ path, message: `expected ${issue.expected}, got ${Array.isArray(value) ? 'a list' : typeof value}` }];
      default:
        return [{ path, message: issue.message, ...(hint ? { hint } : {}) }];
    }
  });
}
