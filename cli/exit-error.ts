/** Thrown by a command handler to end the CLI with a given exit code; only cli/main.ts calls process.exit. */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}
