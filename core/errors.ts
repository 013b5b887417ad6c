/**
 * Errors caused by what a user handed us (a file, a flag, a run folder, a broker address), as opposed
 * to bugs, and how every command ends on one: a user's error is one line on stderr and exit status 2;
 * anything else is one line and exit 1, with the stack when GMEL_DEBUG=1.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/** A command-line flag or argument that cannot be used as given. */
export class UsageError extends InputError {
  override name = 'UsageError';
}

/** System errors that come from what the user pointed us at (a port, a host, a path), not from a bug. */
const USER_SYSTEM_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is already in use',
  ECONNREFUSED: 'nothing is listening there',
  ENOTFOUND: 'no such host',
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
};

/** Commander's own errors carry an exit code (0 for --help and --version) and were printed already. */
function commanderExitCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; exitCode?: unknown };
  return typeof e?.code === 'string' && e.code.startsWith('commander.') && typeof e.exitCode === 'number' ? e.exitCode : undefined;
}

/** Print what went wrong as one line (`name: message`) and exit with the status it deserves. */
export function exitWithError(err: unknown, name: string): never {
  const fromCommander = commanderExitCode(err);
  if (fromCommander !== undefined) process.exit(fromCommander === 0 ? 0 : 2);
  const message = (err as Error)?.message ?? String(err);
  const code = (err as { code?: string })?.code;
  if (err instanceof InputError || err instanceof RangeError) {
    console.error(`${name}: ${message}`);
    process.exit(2);
  }
  if (code !== undefined && code in USER_SYSTEM_ERRORS) {
    console.error(`${name}: ${message.split('\n')[0]} (${USER_SYSTEM_ERRORS[code]})`);
    process.exit(2);
  }
  console.error(`${name}: ${message.split('\n')[0]}${process.env.GMEL_DEBUG === '1' ? `\n${(err as Error)?.stack ?? ''}` : ' (GMEL_DEBUG=1 prints the stack)'}`);
  process.exit(1);
}
