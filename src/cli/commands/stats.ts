/** `prefrank stats DIR`: pairs, flips, confidence and margin quantiles, by source and category, rejects, truncations. */
import type { Argv, CommandModule } from 'yargs';
import { computeStats, formatStats } from '../../analysis/stats.js';
import { createOutputViews, openOutputFolder } from '../../analysis/views.js';
import { queryFailure } from '../../analysis/query.js';
import { DuckDb } from '../../runtime/io/DuckDb.js';
import { UsageError } from '../../runtime/errors.js';

interface StatsArgs {
  dir: string;
  json: boolean;
  top: number;
}

export const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats <dir>',
  describe: 'Summarise an output folder: flips, confidence, sources, categories, rejects',
  builder: (y: Argv<object>) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'Output folder of rerank' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object instead of tables' })
      .option('top', { type: 'number', default: 20, describe: 'Sources, categories and reasons listed, largest first (0: all)' }) as unknown as Argv<StatsArgs>,
  handler: async (argv) => {
    if (!Number.isInteger(argv.top) || argv.top < 0) throw new UsageError(`--top ${argv.top}: expected a non-negative integer`);
    const folder = openOutputFolder(argv.dir);
    await using db = await DuckDb.open();
    await createOutputViews(db, folder);
    const stats = await queryFailure(() => computeStats(db, { top: argv.top }));
    process.stdout.write(argv.json ? JSON.stringify(stats, null, 2) + '\n' : formatStats(stats, argv.dir));
  },
};
