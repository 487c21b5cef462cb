/**
 * Flags shared by the commands that read inputs and write shards (convert, rerank, embed), declared
 * once so they mean the same everywhere, and their conversion to an IoConfig.
 */
import type { Argv } from 'yargs';
import { formats, type Format } from '../../schemas/adapters.js';
import { DEFAULT_OUTPUT_FORMAT, OUTPUT_FORMATS, type OutputFormat } from '../../schemas/layout.js';
import type { IoConfig } from '../runtime/Config.js';
import { UsageError } from '../runtime/errors.js';
import { DEFAULT_MAX_REJECT_RATE } from '../exec/checkYield.js';
import { ROW_GROUP_BYTES } from '../runtime/io/parquetProperties.js';
import { AUTO_PAGE_STREAM, STREAMED_CODECS, type PageStreamPolicy } from '../runtime/io/parquetPageText.js';

/** What every command that reads preference data takes (probe train/eval too): inputs, layout, row checks. */
export function withInputOptions<T>(y: Argv<T>) {
  return y
    // default undefined: yargs would show the variadic positional's internal default, [].
    .positional('inputs', { type: 'string', array: true, demandOption: true, default: undefined, describe: 'Input files, folders or globs (.parquet, .arrow, .jsonl, .jsonl.gz)' })
    .option('format', { choices: formats, default: 'auto' as Format, describe: 'Input layout (auto-detected from the columns)', group: 'Input/output:' })
    .option('pku-choice', { choices: ['safer', 'better'] as const, default: 'safer' as const, describe: 'PKU-SafeRLHF/BeaverTails: chosen by safer_response_id or better_response_id', group: 'Input/output:' })
    .option('max-row-bytes', { type: 'number', default: 16 * 2 ** 20, describe: 'JSON lines longer than this are rejected unread', group: 'Validation:' })
    .option('max-text-chars', { type: 'number', default: 1_000_000, describe: 'Texts longer than this are rejected', group: 'Validation:' })
    .option('page-stream-size', {
      type: 'string',
      default: 'auto',
      describe: 'Parquet text columns whose pages decompress to this size or more (e.g. 16MiB) are read a piece of a page at a time, so memory follows the batch (DuckDB writes pages up to 100 MB); auto: 16 MiB, ZSTD and uncompressed pages (a size: SNAPPY too, about 2x slower than DuckDB); off: DuckDB reads every page whole',
      group: 'Input/output:',
    });
}

export function withIoOptions<T>(y: Argv<T>) {
  return withInputOptions(y)
    .option('out', { type: 'string', demandOption: true, describe: 'Output folder', group: 'Input/output:' })
    .option('split', { type: 'string', default: 'train', describe: 'Split name in shard file names', group: 'Input/output:' })
    .option('output-format', { choices: OUTPUT_FORMATS, default: DEFAULT_OUTPUT_FORMAT, describe: 'Shard files: Parquet, or Arrow IPC stream files (Hugging Face datasets\' cache format, Dataset.from_file)', group: 'Input/output:' })
    .option('compression', { choices: ['zstd', 'snappy', 'none'] as const, default: 'zstd' as const, describe: 'Parquet compression', group: 'Input/output:' })
    .option('row-group-rows', { type: 'number', default: 100_000, describe: `Rows per Parquet row group at most; a row group also ends at ${ROW_GROUP_BYTES} of data (DuckDB scans row groups in parallel)`, group: 'Input/output:' })
    .option('batch-rows', { type: 'number', default: 512, describe: 'Rows per in-flight batch', group: 'Input/output:' })
    .option('window', { type: 'number', default: 2, describe: 'Batches in flight per shard (memory vs overlap)', group: 'Input/output:' })
    .option('part-rows', { type: 'number', default: 1_000_000, describe: 'Split Parquet inputs into shards of at most this many rows (whole row groups; a larger row group is cut into row ranges)', group: 'Input/output:' })
    .option('part-size', { type: 'string', default: '256MiB', describe: 'Split plain JSON lines inputs larger than this into shards of about this size (whole lines), e.g. 64MB, 1GiB; gzip files are never split', group: 'Input/output:' })
    .option('rank', { type: 'number', describe: 'This process\'s rank, 0-based (default: SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, or 0)', group: 'Scale-out:' })
    .option('world-size', { type: 'number', describe: 'Number of ranks in the whole run, across machines (default: SLURM_ARRAY_TASK_COUNT, or 1)', group: 'Scale-out:' })
    .option('workers', { type: 'number', default: 1, describe: 'Worker processes on this machine (each a rank of its own; compute threads are split between them)', group: 'Scale-out:' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an output folder written with other settings', group: 'Input/output:' })
    .option('max-reject-rate', MAX_REJECT_RATE_OPTION)
    .option('progress-interval', { type: 'number', default: 30, describe: 'Without a terminal (Slurm, Kubernetes logs): seconds between progress lines; 0 for none', group: 'Input/output:' });
}

export interface InputArgs {
  inputs: string[];
  format: Format;
  pkuChoice: 'safer' | 'better';
  maxRowBytes: number;
  maxTextChars: number;
  pageStreamSize: string;
}

export interface IoArgs extends InputArgs {
  out: string;
  split: string;
  outputFormat: OutputFormat;
  compression: 'zstd' | 'snappy' | 'none';
  rowGroupRows: number;
  batchRows: number;
  window: number;
  partRows: number;
  partSize: string;
  rank?: number;
  worldSize?: number;
  workers?: number;
  overwrite: boolean;
  maxRejectRate: number;
  progressInterval: number;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** A size flag: bytes, or a number with a unit (KB, MB, GB: powers of 1000; KiB, MiB, GiB: of 1024). */
export function parseSize(flag: string, v: string | number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 1)) throw new UsageError(`--${flag} must be a size such as 256MiB, 64MB or 1000000 (bytes), got ${JSON.stringify(String(v))}`);
  return bytes;
}

/** --page-stream-size: auto (AUTO_PAGE_STREAM), off (undefined: DuckDB reads every page), or a size, for every codec read inside pages. */
export function pageStreamPolicy(v: string): PageStreamPolicy | undefined {
  if (v === 'auto') return AUTO_PAGE_STREAM;
  if (v === 'off') return undefined;
  try {
    return { bytes: parseSize('page-stream-size', v), codecs: [...STREAMED_CODECS] };
  } catch {
    throw new UsageError(`--page-stream-size must be auto, off or a size such as 16MiB, got ${JSON.stringify(v)}`);
  }
}

function positiveInt(flag: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${flag} must be a positive integer, got ${v}`);
  return v;
}

/** Rank and world size from flags, else from the scheduler's environment (read here, in src/, only). */
export function rankAndWorld(args: Pick<IoArgs, 'rank' | 'worldSize'>, env: NodeJS.ProcessEnv = process.env): { rank: number; worldSize: number } {
  const fromEnv = (k: string) => (env[k] !== undefined && env[k] !== '' ? Number(env[k]) : undefined);
  const rank = args.rank ?? fromEnv('SLURM_ARRAY_TASK_ID') ?? fromEnv('JOB_COMPLETION_INDEX') ?? 0;
  const worldSize = args.worldSize ?? fromEnv('SLURM_ARRAY_TASK_COUNT') ?? 1;
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new UsageError(`--world-size must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new UsageError(`--rank must be an integer in [0, ${worldSize - 1}], got ${rank}`);
  return { rank, worldSize };
}

/** The read, adapt and validate slices of the config, each flag checked. */
export function inputConfig(args: InputArgs, batchRows: number): Pick<IoConfig, 'read' | 'adapt' | 'validate'> {
  return {
    read: { batchRows: positiveInt('batch-rows', batchRows), maxRowBytes: positiveInt('max-row-bytes', args.maxRowBytes), pageStream: pageStreamPolicy(args.pageStreamSize) },
    adapt: { format: args.format, pkuChoice: args.pkuChoice },
    validate: { maxTextChars: positiveInt('max-text-chars', args.maxTextChars) },
  };
}

export function ioConfig(args: IoArgs): IoConfig & { readonly workers: number } {
  if (!/^[A-Za-z0-9_.-]+$/.test(args.split)) throw new UsageError(`--split must be letters, digits, '_', '.' or '-', got ${JSON.stringify(args.split)}`);
  return Object.freeze({
    inputs: args.inputs,
    outDir: args.out,
    split: args.split,
    ...inputConfig(args, args.batchRows),
    write: { compression: args.compression, rowGroupRows: positiveInt('row-group-rows', args.rowGroupRows), format: args.outputFormat },
    window: positiveInt('window', args.window),
    partRows: positiveInt('part-rows', args.partRows),
    partBytes: parseSize('part-size', args.partSize),
    ...rankAndWorld(args),
    workers: positiveInt('workers', args.workers ?? 1),
    overwrite: args.overwrite,
    maxRejectRate: checkMaxRejectRate(args.maxRejectRate),
    progressInterval: checkProgressInterval(args.progressInterval),
  });
}

/** The --max-reject-rate flag of the commands that write or merge shards. */
export const MAX_REJECT_RATE_OPTION = {
  type: 'number',
  default: DEFAULT_MAX_REJECT_RATE,
  describe: 'End non-zero when more than this share of input rows is rejected (or none is written), in [0, 1]',
  group: 'Validation:',
} as const;

function checkProgressInterval(v: number): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new UsageError(`--progress-interval must be a number of seconds >= 0, got ${v}`);
  return v;
}

/** The flag's one check. */
export function checkMaxRejectRate(v: number): number {
  if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new UsageError(`--max-reject-rate must be a number in [0, 1], got ${v}`);
  return v;
}
