/**
 * `prefrank merge DIR`: after the ranks of a sharded run (Slurm array, Kubernetes Indexed Job,
 * --rank/--world-size by hand) are done, checks that every input part was done exactly once and
 * writes the final manifest.json and dataset card (src/exec/merge.ts).
 */
import type { CommandModule } from 'yargs';
import { mergeOutput } from '../../exec/merge.js';
import { Logger, type LogLevel } from '../../runtime/Logger.js';
import { checkMaxRejectRate, MAX_REJECT_RATE_OPTION } from '../ioOptions.js';

type Args = { dir: string; logLevel: LogLevel; logFormat: 'text' | 'json'; maxRejectRate: number };

export const mergeCommand: CommandModule<object, Args> = {
  command: 'merge <dir>',
  describe: 'Check that every part of a sharded run was done exactly once, then write manifest.json and the dataset card',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'Output folder (the --out of the ranks)' })
      .option('max-reject-rate', MAX_REJECT_RATE_OPTION)
      .example('$0 merge out/', 'After all Slurm array tasks or Indexed Job pods finished') as never,
  handler: async (args) => {
    await mergeOutput(args.dir, new Logger(args.logLevel, args.logFormat), checkMaxRejectRate(args.maxRejectRate));
  },
};
