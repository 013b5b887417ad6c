/**
 * `gmel`: one command-line tool, a subcommand per job. Each subcommand lives in its own module.
 */
import { Command } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { registerSim } from './sim-command.ts';
import { registerTrain } from './train-command.ts';
import { registerEval } from './eval-command.ts';
import { registerExport } from './export-command.ts';
import { registerUp } from './up-command.ts';
import { registerIed } from '../runtime-ied/command.ts';
import { registerEdge } from '../runtime-edge/command.ts';
import { registerTwin } from './twin-command.ts';
import { registerDeploy } from './deploy-command.ts';
import { exitWithError } from '../core/errors.ts';

const program = new Command();
program
  .name('gmel')
  .description('GMEL edge: learned AIGC task offloading for industrial edge devices')
  .version(pkg.version, '--version', 'print the version')
  // gmel's own options come before the command: `gmel export --version v3` is export's own --version
  .enablePositionalOptions()
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
  exitWithError(err, 'gmel');
}
