/**
 * Where things are in an output folder: the one place that knows its folder and file names, shard
 * names, completion records and temporary names. Everything that writes, checks, clears or reads an
 * output folder asks here, so a folder added to the layout is seen by all of them (merge's stray
 * check, clearing on --overwrite, the cleanup after a killed run).
 *
 * ```
 * out/
 *   run.json                     settings the folder is written with (RunInfo)
 *   data/train-00000-of-00004.parquet       pairs (convert, rerank); .arrow with --output-format arrow
 *   features/train-00000-of-00004.parquet   feature rows (embed)
 *   lists/  rejects/             listwise rows kept whole; rows not used, with their reason
 *   completions/00000.json       one record per finished part (ShardResult)
 *   manifest.json  README.md     written once every part is done
 * ```
 */

/** Folders that hold one shard per part, named by `shardName`. */
export const SHARD_FOLDERS = ['data', 'features', 'lists', 'rejects'] as const;
export type ShardFolder = (typeof SHARD_FOLDERS)[number];

export const COMPLETIONS_FOLDER = 'completions';
export const RUN_FILE = 'run.json';
export const MANIFEST_FILE = 'manifest.json';
export const CARD_FILE = 'README.md';

/** Every folder a run may make: cleared by --overwrite, and not foreign in a folder being started. */
export const RUN_FOLDERS: readonly string[] = [...SHARD_FOLDERS, COMPLETIONS_FOLDER];
/** Every file a run writes at the top of the folder. */
export const RUN_FILES: readonly string[] = [MANIFEST_FILE, CARD_FILE, RUN_FILE];

/** The folder of a command's main shards: feature shards for embed, pairs otherwise. */
export function dataFolderOf(command: string): ShardFolder {
  return command === 'embed' ? 'features' : 'data';
}

/**
 * The shard file formats: Parquet, or Arrow IPC stream files (what Hugging Face datasets caches in
 * and loads with `Dataset.from_file`). Every shard of a run, in every shard folder, has one format.
 */
export const OUTPUT_FORMATS = ['parquet', 'arrow'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const DEFAULT_OUTPUT_FORMAT: OutputFormat = 'parquet';

/** A shard file's extension, with its dot. */
export function shardExtension(format: OutputFormat): string {
  return `.${format}`;
}

/** The format of a shard file by its name, or null when it is no shard file. */
export function shardFormatOf(file: string): OutputFormat | null {
  return OUTPUT_FORMATS.find((f) => file.endsWith(shardExtension(f))) ?? null;
}

/** A part's number as it appears in file names: five digits. */
export function partNumber(index: number): string {
  return String(index).padStart(5, '0');
}

/** `{split}-{i:05d}-of-{n:05d}.parquet` (or `.arrow`), the Hugging Face datasets naming. */
export function shardName(split: string, index: number, count: number, format: OutputFormat = DEFAULT_OUTPUT_FORMAT): string {
  return `${split}-${partNumber(index)}-of-${partNumber(count)}${shardExtension(format)}`;
}

/** True when `file` is the shard of part `index` of `count`, whatever the split and format. */
export function isShardOfPart(file: string, index: number, count: number): boolean {
  return OUTPUT_FORMATS.some((f) => file.endsWith(`-${partNumber(index)}-of-${partNumber(count)}${shardExtension(f)}`));
}

/** A shard's path relative to the output folder. */
export function shardPath(folder: ShardFolder, split: string, index: number, count: number, format: OutputFormat = DEFAULT_OUTPUT_FORMAT): string {
  return `${folder}/${shardName(split, index, count, format)}`;
}

/** A part's completion record, relative to the output folder. */
export function completionFile(index: number): string {
  return `${COMPLETIONS_FOLDER}/${partNumber(index)}.json`;
}

/** The part index a completion record's file name gives; null for any other name. */
export function completionIndex(name: string): number | null {
  return /^\d{5}\.json$/.test(name) ? Number(name.slice(0, 5)) : null;
}

/**
 * A file's temporary name while it is written: renamed into place when whole. With `pid`, a name of
 * that process alone (two workers writing the same top-level file never share one).
 */
export function tmpName(file: string, pid?: number): string {
  return pid === undefined ? `${file}.tmp` : `${file}.${pid}.tmp`;
}

export function isTmpName(name: string): boolean {
  return name.endsWith('.tmp');
}

/** A per-process temporary name of one of the top-level files. */
export const TOP_TMP = new RegExp(`^(${RUN_FILES.map((f) => f.replace('.', '\\.')).join('|')})\\.\\d+\\.tmp$`);
