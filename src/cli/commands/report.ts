/** `prefrank report DIR --out report.html`: one self-contained HTML page with charts and the most confident flips. */
import { OVERWRITE_OPTION, refuseExisting } from '../outFile.js';
import { renameSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { buildReport } from '../../analysis/report.js';
import { createOutputViews, openOutputFolder } from '../../analysis/views.js';
import { queryFailure } from '../../analysis/query.js';
import { DuckDb } from '../../runtime/io/DuckDb.js';
import { UsageError, UserError } from '../../runtime/errors.js';

interface ReportArgs {
  dir: string;
  out?: string;
  overwrite: boolean;
  points: number;
  flips: number;
  'text-chars': number;
  top: number;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dir>',
  describe: 'Write an HTML report of an output folder (charts, most confident flips)',
  builder: (y: Argv<object>) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'Output folder of rerank' })
      .option('out', { type: 'string', describe: 'The HTML file to write (required)' })
      .option('overwrite', OVERWRITE_OPTION)
      .option('points', { type: 'number', default: 4000, describe: 'Most pairs drawn in the reward scatter (deterministic sample)' })
      .option('flips', { type: 'number', default: 20, describe: 'Most confident flips shown with their texts' })
      .option('text-chars', { type: 'number', default: 1200, describe: 'Characters shown per text' })
      .option('top', { type: 'number', default: 25, describe: 'Sources, categories and reasons charted, largest first (0: all)' }) as unknown as Argv<ReportArgs>,
  handler: async (argv) => {
    // Checked here, not with demandOption: a usage failure must stop before the handler runs.
    if (!argv.out) throw new UsageError('report needs --out FILE');
    const outFile = argv.out;
    refuseExisting(outFile, argv.overwrite);
    for (const [flag, v] of [['--points', argv.points], ['--flips', argv.flips], ['--text-chars', argv['text-chars']], ['--top', argv.top]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new UsageError(`${flag} ${v}: expected a non-negative integer`);
    }
    const folder = openOutputFolder(argv.dir);
    await using db = await DuckDb.open();
    await createOutputViews(db, folder);
    const html = await queryFailure(() =>
      buildReport(db, { title: basename(resolve(argv.dir)), points: argv.points, flips: argv.flips, textChars: argv['text-chars'], top: argv.top, manifest: folder.manifest }),
    );
    // Written under a temporary name and renamed, so a reader never sees half a page.
    const tmp = `${outFile}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, html);
      renameSync(tmp, outFile);
    } catch (e) {
      throw new UserError(`${outFile}: cannot write the report (${(e as Error).message})`, { cause: e });
    }
    process.stderr.write(`wrote ${outFile}\n`);
  },
};
