/**
 * `prefrank probe train` and `prefrank probe eval`: the representation reward's own commands
 * (DESIGN.md, Method 2-3).
 */
import type { CommandModule } from 'yargs';
import { evalCommand } from './probeEval.js';
import { trainCommand } from './probeTrain.js';

export const probeCommand: CommandModule<object, object> = {
  command: 'probe <command>',
  describe: 'Train or evaluate the representation reward probe',
  builder: (y) => y.command(trainCommand as CommandModule).command(evalCommand as CommandModule).demandCommand(1, 'Name a probe command: train or eval.'),
  handler: () => {},
};
