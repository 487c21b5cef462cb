/**
 * `prefrank sql DIR "<query>"`: SQL (DuckDB) over an output folder's `pairs`, `rejects` and
 * `shards`; more folders side by side with `--attach name=DIR` (as `name.pairs`, ...); values bound
 * with `--param name=value` ($name in the query), never spliced into it.
 */
import { OVERWRITE_OPTION, refuseExisting } from '../outFile.js';
import type { Argv, CommandModule } from 'yargs';
import { createOutputViews, openOutputFolder } from '../../analysis/views.js';
import { checkQuery, exportQuery, FORMATS, parseAttach, parseParams, streamQuery, tableQuery, type Format } from '../../analysis/query.js';
import { DuckDb } from '../../runtime/io/DuckDb.js';
import { UsageError } from '../../runtime/errors.js';

interface SqlArgs {
  dir: string;
  query: string;
  format: Format;
  out?: string;
  overwrite: boolean;
  attach: string[];
  param: string[];
  'max-rows': number;
  'max-width': number;
}

export const sqlCommand: CommandModule<object, SqlArgs> = {
  command: 'sql <dir> <query>',
  describe: 'Query an output folder with SQL (views: pairs, rejects, shards)',
  builder: (y: Argv<object>) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'Output folder of rerank' })
      .positional('query', { type: 'string', demandOption: true, describe: 'One SQL statement (DuckDB dialect)' })
      .option('format', { choices: FORMATS, default: 'table' as Format, describe: 'table (first --max-rows rows), or the whole result as csv, json, jsonl, parquet' })
      .option('out', { type: 'string', describe: 'Write the result to this file (csv/json/jsonl/parquet)' })
      .option('overwrite', OVERWRITE_OPTION)
      .option('attach', { type: 'string', array: true, default: [] as string[], describe: 'name=DIR: another folder, as name.pairs, name.rejects, name.shards (repeatable)' })
      .option('param', { type: 'string', array: true, default: [] as string[], describe: 'name=value, bound to $name in the query (repeatable)' })
      .option('max-rows', { type: 'number', default: 100, describe: 'Rows printed by --format table' })
      .option('max-width', { type: 'number', default: 60, describe: 'Characters per cell in --format table' })
      .example('$0 sql out/x "SELECT category, avg(flipped::INT) FROM pairs GROUP BY ALL"', '')
      .example("$0 sql out/x 'SELECT * FROM pairs WHERE source_file = $f' --param f=a.parquet", '') as unknown as Argv<SqlArgs>,
  handler: async (argv) => {
    const params = parseParams(argv.param);
    const attached = parseAttach(argv.attach);
    if (argv.format === 'table' && argv.out) throw new UsageError('--out needs --format csv, json, jsonl or parquet');
    if (argv.format === 'parquet' && !argv.out) throw new UsageError('--format parquet needs --out FILE');
    if (argv.out) refuseExisting(argv.out, argv.overwrite);
    for (const [flag, v] of [['--max-rows', argv['max-rows']], ['--max-width', argv['max-width']]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`${flag} ${v}: expected a positive integer`);
    }
    const main = openOutputFolder(argv.dir);
    const others = attached.map((a) => ({ ...a, folder: openOutputFolder(a.dir) }));

    await using db = await DuckDb.open();
    await createOutputViews(db, main);
    for (const a of others) await createOutputViews(db, a.folder, a.name);
    await checkQuery(db, argv.query, params);

    if (argv.format === 'table') {
      const res = await tableQuery(db, argv.query, params, argv['max-rows'], argv['max-width']);
      process.stdout.write(res.text + '\n');
      process.stderr.write(res.complete ? `(${res.rows} row${res.rows === 1 ? '' : 's'})\n` : `(first ${res.rows} rows; --max-rows N for more, or --format csv --out FILE for all)\n`);
    } else if (argv.out) {
      await exportQuery(db, argv.query, params, argv.format, argv.out);
      process.stderr.write(`wrote ${argv.out}\n`);
    } else {
      await streamQuery(db, argv.query, params, argv.format as 'csv' | 'json' | 'jsonl', process.stdout);
    }
  },
};
