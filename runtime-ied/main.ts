/**
 * The gateway's own entry point: only the `ied` command (runtime-ied/command.ts), so a gateway (or its
 * bundle, deploy/) loads core/, protocol/, sim/ and ONNX Runtime, nothing of the trainer, the twin or
 * the other commands (test/architecture.test.ts checks the import graph and the bundle).
 *
 *   node gmel-ied.mjs --ieds 7 --model models/gmel2024-amarl --broker mqtt://host:1883
 *
 * A bundle is verified by its install.sh with the host's openssl and sha256sum (deploy/bundle.ts),
 * never by code from the bundle itself.
 */
import { Command } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { exitWithError } from '../core/errors.ts';
import { registerIed } from './command.ts';

// the bundle runs on whatever Node the gateway host has: say so plainly when it is too old
const MIN_NODE_MAJOR = 20;
if (Number(process.versions.node.split('.')[0]) < MIN_NODE_MAJOR) {
  console.error(`gmel-ied: needs Node.js ${MIN_NODE_MAJOR} or newer, this is ${process.version}`);
  process.exit(2);
}
const program = new Command().name('gmel-ied').exitOverride();
// `--version` before the command: the bundle's own version
if (process.argv[2] === '--version') {
  console.log(pkg.version);
  process.exit(0);
}
registerIed(program);
const args = process.argv.slice(2);
try {
  await program.parseAsync(['node', 'gmel-ied', 'ied', ...args]);
} catch (err) {
  exitWithError(err, 'gmel-ied');
}
