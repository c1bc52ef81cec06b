/**
 * Where CLI commands write (stdout/stderr by default; tests capture lines), and the CLI's user error.
 */

/** Output channels of a command. */
export interface CliIo {
  /** A line of normal output (stdout). */
  out(line: string): void;
  /** A line of diagnostics or errors (stderr). */
  err(line: string): void;
}

/** The process's stdout/stderr. */
export const processIo: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** A failure the user can fix: printed without a stack trace, exit code 1 (or `exitCode`). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
