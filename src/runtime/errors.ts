/**
 * Errors a user can cause. The CLI prints `message` as one line and exits with `exitCode`; anything
 * else is a bug and gets its stack. Operators never print; they throw these (or return rejects).
 */
export class UserError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

/** A bad flag or argument: exit code 2. */
export class UsageError extends UserError {
  override readonly exitCode: number = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Runs a range check written for the library (it throws a RangeError naming the value) on a flag's
 * value: the same check, one line and exit code 2 for the user. `rename` maps the message (e.g. an
 * option name to its flag).
 */
export function asUsageError<T>(check: () => T, rename: (message: string) => string = (m) => m): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(rename(err.message));
    throw err;
  }
}

/** An input file that cannot be read at all: the part fails, the run goes on, and exits non-zero. */
export class InputFileError extends UserError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'InputFileError';
  }
}

/** One line for the user: the message and, when it adds something, the underlying cause. */
export function oneLine(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  let msg = e?.message ?? String(err);
  const cause = e?.cause?.message;
  if (cause && !msg.includes(cause)) msg += ` (${cause})`;
  return msg.replace(/\s*\n\s*/g, ' ');
}
