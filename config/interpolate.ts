/**
 * `${VAR}` and `${VAR:-default}` in string values of a parsed config, so secrets live in the
 * environment and never in the YAML. `$${` writes a literal `${`.
 */
import type { UnplacedProblem } from './config-problem';

export interface InterpolationResult {
  value: unknown;
  problems: UnplacedProblem[];
  /** Every value taken from the environment, so error messages can be scrubbed of secrets. */
  substituted: string[];
}

// A name must follow `${`, so Liquid's `${{ mrr }}` (a literal dollar before an output tag) is left alone.
const REFERENCE = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(value: unknown, env: Readonly<Record<string, string | undefined>>): InterpolationResult {
  const problems: UnplacedProblem[] = [];
  const substituted: string[] = [];

  const visit = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      return node.replace(
        REFERENCE,
        (whole, escaped: string | undefined, name: string, fallback: string | undefined) => {
          if (escaped) return whole.slice(1);
          const fromEnv = env[name];
          // Like the shell's `:-`, an empty variable counts as unset when a default is given.
          if (fallback !== undefined && (fromEnv === undefined || fromEnv === '')) return fallback;
          if (fromEnv === undefined) {
            problems.push({
              path,
              message: `environment variable ${name} is not set`,
              hint: `export ${name}=... before running ebb, or write \${${name}:-<default>} in the config`,
            });
            return '';
          }
          if (fromEnv !== '') substituted.push(fromEnv);
          return fromEnv;
        },
      );
    }
    if (Array.isArray(node)) return node.map((item, index) => visit(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, visit(item, [...path, key])]));
    }
    return node;
  };

  return { value: visit(value, []), problems, substituted };
}
