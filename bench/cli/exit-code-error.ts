/** An error that asks the command line for a specific exit status (main() uses 1 for other errors). */
export class ExitCodeError extends Error {
  readonly exitCode: number;

  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}
