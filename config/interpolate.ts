/**
 * `${VAR}`, `${VAR-default}` and `${VAR:-default}` in string values of a parsed config, so secrets
 * live in the environment and never in the YAML. As in the shell, `-` falls back only when VAR is
 * unset and `:-` also when it is empty: `apiUrl: ${SLACK_API_URL-http://127.0.0.1:8788/api/}` lets
 * an empty SLACK_API_URL mean Slack itself. `$${` writes a literal `${`.
 */
import type { UnplacedProblem } from './config-problem';

export interface InterpolationResult {
  value: unknown;
  problems: UnplacedProblem[];
  /** Every value taken from the environment, so error messages can be scrubbed of secrets. */
  substituted: string[];
}

// A name must follow `${`, so Liquid's `${{ mrr }}` (a literal dollar before an output tag) is left alone.
const REFERENCE = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g;

export function interpolate(value: unknown, env: Readonly<Record<string, string | undefined>>): InterpolationResult {
  const problems: UnplacedProblem[] = [];
  const substituted: string[] = [];

  const visit = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      return node.replace(
        REFERENCE,
        (whole, escaped: string | undefined, name: string, colon: string | undefined, fallback: string | undefined) => {
          if (escaped) return whole.slice(1);
          const fromEnv = env[name];
          const emptyIsUnset = colon === ':';
          if (fallback !== undefined && (fromEnv === undefined || (emptyIsUnset && fromEnv === ''))) return fallback;
          if (fromEnv === undefined) {
            problems.push({
              path,
              message: `environment variable ${name} is not set`,
              hint: `export ${name}=... before running ebb, or write \${${name}-<default>} in the config (\${${name}:-<default>} also replaces an empty value)`,
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
