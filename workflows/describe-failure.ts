import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TemporalFailure } from '@temporalio/workflow';

/**
 * The innermost meaningful message of a failure chain. Errors crossing the activity boundary arrive as
 * ActivityFailure whose cause carries the original class name as `type`; we report `type: message`.
 */
export function describeFailure(err: unknown): string {
  let current: unknown = err;
  while (current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) {
    if (!current.cause) break;
    current = current.cause;
  }
  if (current instanceof ApplicationFailure)
    return current.type ? `${current.type}: ${current.message}` : current.message;
  if (current instanceof TemporalFailure || current instanceof Error) return current.message;
  return String(current);
}
