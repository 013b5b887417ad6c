/**
 * `gmel`: one command-line tool, a subcommand per job. Each subcommand lives in its own module.
 */
import { Command, CommanderError } from 'commander';
import { registerSim } from './sim-command.ts';
import { registerTrain } from './train-command.ts';
import { registerEval } from './eval-command.ts';
import { registerExport } from './export-command.ts';
import { registerUp } from './up-command.ts';
import { registerIed } from '../runtime-ied/command.ts';
import { registerEdge } from '../runtime-edge/command.ts';
import { registerTwin } from './twin-command.ts';
import { registerDeploy } from './deploy-command.ts';
import { InputError } from '../core/errors.ts';

const program = new Command();
program
  .name('gmel')
  .description('GMEL edge: learned AIGC task offloading for industrial edge devices')
  .showHelpAfterError()
  .exitOverride();
registerSim(program);
registerTrain(program);
registerEval(program);
registerExport(program);
registerUp(program);
registerEdge(program);
registerIed(program);
registerTwin(program);
registerDeploy(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof InputError || err instanceof RangeError) {
    console.error(`gmel: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
