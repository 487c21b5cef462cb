import type { CommandModule } from 'yargs';
import { convert } from '../../../pipelines/convert.js';
import { ioConfig, withIoOptions, type IoArgs } from '../ioOptions.js';
import { ioSettings } from '../../runtime/Config.js';
import { Logger, type LogLevel } from '../../runtime/Logger.js';
import { Stats } from '../../runtime/Stats.js';
import { runJob } from '../../exec/runJob.js';

type Args = IoArgs & { logLevel: LogLevel; logFormat: 'text' | 'json' };

export const convertCommand: CommandModule<object, Args> = {
  command: 'convert <inputs..>',
  describe: 'Convert preference data (HH-RLHF, TRL, PKU-SafeRLHF, listwise; JSONL or Parquet) to canonical Parquet shards',
  builder: (y) => withIoOptions(y) as never,
  handler: async (args) => {
    const io = ioConfig(args);
    const log = new Logger(args.logLevel, args.logFormat);
    const stats = new Stats();
    const out = await runJob({
      command: 'convert',
      io,
      settings: { command: 'convert', ...ioSettings(io) },
      log,
      stats,
      pipeline: (parts, configHash) => convert(parts, io, { stats, configHash }),
    });
    const rows = out.results.reduce((s, r) => s + r.stats.rowsIn, 0);
    log.info(`convert: ${rows} rows in ${out.seconds.toFixed(1)} s (${(rows / Math.max(out.seconds, 1e-9)).toFixed(0)} rows/s)`, { out: io.outDir });
  },
};
