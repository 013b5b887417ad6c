/**
 * The gateway's own entry point: only the `ied` command, so a gateway (or its bundle, deploy/) loads
 * nothing of the trainer, the evaluation or the simulator CLI.
 *
 *   node gmel-ied.mjs --ieds 7 --model models/gmel2024-amarl --broker mqtt://host:1883
 *   node gmel-ied.mjs verify-bundle <dir> --pub deploy.pub
 */
import { Command, CommanderError } from 'commander';
import { InputError } from '../core/errors.ts';
import { registerRuntimes } from '../cli/runtime-commands.ts';

const program = new Command().name('gmel-ied').exitOverride();
registerRuntimes(program);
program
  .command('verify-bundle')
  .description('check a bundle folder against a trusted public key (signature, checksums, file list)')
  .argument('<dir>', 'bundle folder')
  .requiredOption('--pub <file>', 'trusted Ed25519 public key (PEM)')
  .action(async (dir: string, o: { pub: string }) => {
    const { verifyBundle } = await import('../deploy/signing.ts');
    const { readFileSync } = await import('node:fs');
    const manifest = verifyBundle(dir, readFileSync(o.pub, 'utf8'));
    console.log(`bundle ok: IED ${manifest.ied}, model ${manifest.modelVersion}, ${Object.keys(manifest.files).length} files`);
  });
const args = process.argv.slice(2);
try {
  await program.parseAsync(['node', 'gmel-ied', ...(args[0] === 'verify-bundle' ? args : ['ied', ...args])]);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof InputError || err instanceof RangeError) {
    console.error(`gmel-ied: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
