/**
 * The gateway's own entry point: only the `ied` command, so a gateway (or its bundle, deploy/) loads
 * nothing of the trainer, the evaluation or the simulator CLI.
 *
 *   node gmel-ied.mjs --ieds 7 --model models/gmel2024-amarl --broker mqtt://host:1883
 */
import { Command, CommanderError } from 'commander';
import { InputError } from '../core/errors.ts';
import { registerRuntimes } from '../cli/runtime-commands.ts';

const program = new Command().name('gmel-ied').exitOverride();
registerRuntimes(program);
try {
  await program.parseAsync(['node', 'gmel-ied', 'ied', ...process.argv.slice(2)]);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof InputError || err instanceof RangeError) {
    console.error(`gmel-ied: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
