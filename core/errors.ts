/**
 * Errors caused by what a user handed us (a file, a flag, a run folder), as opposed to bugs.
 * Commands print their message alone and exit with status 2; everything else is a crash with a stack.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/** A command-line flag or argument that cannot be used as given. */
export class UsageError extends InputError {
  override name = 'UsageError';
}
