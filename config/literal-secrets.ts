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

/** A webhook destination's signing secret written in the file itself (`secret: whsec_...`). */
function webhookSecretProblems(raw: unknown): UnplacedProblem[] {
  const destinations = (raw as { destinations?: unknown } | null)?.destinations;
  if (destinations === null || typeof destinations !== 'object') return [];
  return Object.entries(destinations as Record<string, unknown>).flatMap(([name, entry]) => {
    const destination = entry as { type?: unknown; secret?: unknown } | null;
    if (destination?.type !== 'webhook' || typeof destination.secret !== 'string') return [];
    if (ONE_REFERENCE.test(destination.secret.trim())) return [];
    return [
      {
        path: ['destinations', name, 'secret'],
        message: `destinations.${name}.secret is written in ebb.yaml itself: a signing secret must not live in the config file`,
        hint: 'write secret: ${WEBHOOK_SECRET} and export WEBHOOK_SECRET, or put the secret in a file and name it with secretFile; then change the secret at the receiver too, since it has been in the file',
      },
    ];
  });
}

/** Problems with how ebb.yaml gives its secrets, from the parsed YAML before interpolation. */
export function literalSecretProblems(raw: unknown): UnplacedProblem[] {
  const webhook = webhookSecretProblems(raw);
  const temporal = temporalBlock(raw);
  if (!temporal) return webhook;
  const problems: UnplacedProblem[] = [...webhook];
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
