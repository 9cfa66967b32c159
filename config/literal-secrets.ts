/**
 * Secrets come from the environment or files, never from ebb.yaml itself (DESIGN.md section 2): an
 * ebb.yaml is committed to git and shown in reviews. Interpolation erases where a value came from,
 * so this looks at the file as written, before `${VAR}` is replaced.
 *
 *   temporal: { apiKey: ${TEMPORAL_API_KEY} }      # fine
 *   temporal: { apiKey: eyJhbGciOi... }            # refused, naming temporal.apiKey
 */
import type { UnplacedProblem } from './config-problem';

/** The whole value is one `${NAME}`: a default after `-` would be a secret written in the file. */
const ONE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

function temporalBlock(raw: unknown): Record<string, unknown> | null {
  const temporal = (raw as { temporal?: unknown } | null)?.temporal;
  return temporal !== null && typeof temporal === 'object' ? (temporal as Record<string, unknown>) : null;
}

/** Problems with how ebb.yaml gives its secrets, from the parsed YAML before interpolation. */
export function literalSecretProblems(raw: unknown): UnplacedProblem[] {
  const temporal = temporalBlock(raw);
  if (!temporal) return [];
  const problems: UnplacedProblem[] = [];
  const apiKey = temporal.apiKey;
  if (typeof apiKey === 'string' && !ONE_REFERENCE.test(apiKey.trim())) {
    problems.push({
      path: ['temporal', 'apiKey'],
      message: 'temporal.apiKey is written in ebb.yaml itself: an API key must not live in the config file',
      hint:
        'write apiKey: ${TEMPORAL_API_KEY} and export TEMPORAL_API_KEY, or set EBB_TEMPORAL_API_KEY, ' +
        'or put the key in a file and name it with temporal.apiKeyPath (or EBB_TEMPORAL_API_KEY_FILE); ' +
        'then revoke this key, since it has been in the file',
    });
  }
  if (apiKey !== undefined && temporal.apiKeyPath !== undefined) {
    problems.push({
      path: ['temporal', 'apiKeyPath'],
      message: 'temporal.apiKey and temporal.apiKeyPath both give the API key',
      hint: 'keep one of them',
    });
  }
  return problems;
}
