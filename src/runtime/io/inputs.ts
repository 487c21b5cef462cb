/**
 * Input discovery and planning: inputs (files, folders, globs) become a sorted list of files, and
 * files become parts. A part is one output shard: a whole JSONL file, or a range of row groups of a
 * Parquet file (large files are split so that several workers can share them). The plan depends on
 * the input alone, so every rank computes the same plan and takes its own share of it.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { glob } from 'tinyglobby';
import type { PartRef } from '../../../schemas/records.js';
import { UsageError } from '../errors.js';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { isGzip, ParquetDecoder } from './readers.js';

const dataFile = /\.(parquet|arrow|jsonl|ndjson|json)(\.gz)?$/i;

/** Expands inputs to a sorted, de-duplicated list of absolute file paths. */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  if (inputs.length === 0) throw new UsageError('no inputs: name at least one file, folder or glob');
  const files = new Set<string>();
  for (const input of inputs) {
    const st = await stat(input).catch(() => null);
    if (st?.isFile()) {
      files.add(resolve(input));
    } else if (st?.isDirectory()) {
      const found = await glob('**/*', { cwd: input, absolute: true, onlyFiles: true });
      const data = found.filter((f) => dataFile.test(f));
      if (data.length === 0) throw new UsageError(`input folder has no .parquet/.arrow/.jsonl(.gz) files: ${input}`);
      data.forEach((f) => files.add(resolve(f)));
    } else if (/[*?[{]/.test(input)) {
      const found = await glob(input, { absolute: true, onlyFiles: true });
      if (found.length === 0) throw new UsageError(`glob matches no files: ${input}`);
      found.forEach((f) => files.add(resolve(f)));
    } else {
      throw new UsageError(`input not found: ${input}`);
    }
  }
  // Code-unit order, not locale order: the same on every machine.
  return [...files].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Parquet by its magic bytes (so a misnamed file is still read right), Arrow IPC by its extension, else JSON lines. */
export async function sniffFormat(file: string): Promise<'parquet' | 'jsonl' | 'arrow'> {
  if (/\.parquet$/i.test(file)) return 'parquet';
  if (/\.arrow$/i.test(file)) return 'arrow';
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    return bytesRead === 4 && buf.toString('latin1') === 'PAR1' ? 'parquet' : 'jsonl';
  } finally {
    await fh.close();
  }
}

/**
 * Row counts of a Parquet file's row groups, or the reason it cannot be read. Read by a decoder in a
 * worker thread (readers.ts, ParquetDecoder), so a malformed footer cannot take the process down;
 * pass one to reuse it across files.
 */
export async function parquetRowGroups(file: string, decoder?: ParquetDecoder): Promise<number[] | Error> {
  const own = decoder ?? new ParquetDecoder();
  try {
    return (await own.request({ op: 'rowGroups', file })).rowGroups as number[];
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    if (!decoder) await own.close();
  }
}

/** How much of a JSON lines file is read to estimate its rows. */
const SAMPLE_BYTES = 1 << 20;

/**
 * Rows of a JSON lines file for the progress bar: exact for a plain file up to 1 MiB, else its size
 * times the lines per byte of its first MiB (compressed bytes for gzip). Never part of the plan's
 * identity: the estimate only sizes the bar and its ETA.
 */
export async function estimateJsonlRows(file: string): Promise<number> {
  const { size } = await stat(file);
  if (size === 0) return 0;
  const gz = /\.gz$/i.test(file) || (await isGzip(file));
  const raw = createReadStream(file, { start: 0, end: SAMPLE_BYTES - 1 });
  let compressed = 0;
  let lines = 0;
  let last = 0x0a;
  raw.on('data', (b) => (compressed += b.length));
  const count = (chunk: Buffer) => {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
    if (chunk.length) last = chunk[chunk.length - 1];
  };
  try {
    if (gz) {
      // The first MiB of a gzip stream is cut: what it decompresses to is counted, the cut is not an error.
      const unzip = raw.pipe(createGunzip({ finishFlush: 2 /* Z_SYNC_FLUSH */ }));
      for await (const chunk of unzip) count(chunk as Buffer);
    } else for await (const chunk of raw) count(chunk as Buffer);
  } catch {
    // A damaged sample: the reader will say so; the estimate uses what was counted.
  }
  if (!gz && compressed >= size) return lines + (last !== 0x0a ? 1 : 0);
  return compressed > 0 ? Math.round((lines * size) / compressed) : 0;
}

export interface PlanOptions {
  /** Split a Parquet file into parts of at most this many rows (whole row groups). */
  readonly partRows: number;
  /** Split a plain JSON lines file into parts of about this many bytes (whole lines); absent: never. */
  readonly partBytes?: number;
  /**
   * Told before a file is read through to be cut (jsonlRanges: minutes for tens of GB on a slow
   * disk), so that a long plan is not silent: nothing else is printed until the plan is done.
   */
  readonly note?: (message: string) => void;
}

/** One byte range of a split JSON lines file: [start, end), its first line number and its lines. */
interface LineRange {
  readonly start: number;
  readonly end: number;
  readonly firstRow: number;
  readonly lines: number;
}

/**
 * Cuts a plain JSON lines file into ranges of about `partBytes`, each starting at a line start, in
 * one pass that counts newlines (so each range knows the number of its first line, as the readers
 * number rows). The cuts depend on the file and `partBytes` only: every rank plans the same parts.
 */
export async function jsonlRanges(file: string, partBytes: number): Promise<LineRange[]> {
  const ranges: LineRange[] = [];
  let start = 0;
  let firstRow = 0;
  let pos = 0;
  let lines = 0; // newlines seen before `pos`
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) {
      lines++;
      const next = pos + i + 1; // the byte after this newline starts a line
      if (next - start >= partBytes) {
        ranges.push({ start, end: next, firstRow, lines: lines - firstRow });
        start = next;
        firstRow = lines;
      }
    }
    pos += chunk.length;
  }
  // The rest (a last line without a newline counts as one).
  if (pos > start || ranges.length === 0) ranges.push({ start, end: pos, firstRow, lines: lines - firstRow + (pos > start && !(await endsWithNewline(file, pos)) ? 1 : 0) });
  return ranges;
}

async function endsWithNewline(file: string, size: number): Promise<boolean> {
  if (size === 0) return true;
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    await fh.close();
  }
}

/**
 * Each file's name relative to the deepest folder that holds all of them ('/' separators): a single
 * file is its base name. The same files give the same names from any working folder.
 */
export function sourceNames(files: readonly string[]): string[] {
  if (files.length === 0) return [];
  const split = files.map((f) => resolve(f).split(sep));
  let common = split[0].length - 1; // folders only: never the file name itself
  for (const s of split) {
    let k = 0;
    while (k < common && k < s.length - 1 && s[k] === split[0][k]) k++;
    common = k;
  }
  return split.map((s) => s.slice(common).join('/'));
}

/** The deepest folder holding all the files (the root that sourceNames are relative to). */
export function commonFolder(files: readonly string[]): string | null {
  if (files.length === 0) return null;
  const name = sourceNames(files)[0];
  const abs = resolve(files[0]);
  return abs.slice(0, abs.length - name.length - 1) || sep;
}

/**
 * The inputs' licence as a Hugging Face Hub id, when the folder holding them says: a README.md with
 * `license:` in its YAML front matter (a Hub dataset card), else a LICENSE file whose text is one of
 * the common licences. null when nothing says (the card then says "unknown").
 */
export async function inputLicense(files: readonly string[]): Promise<string | null> {
  const dir = commonFolder(files);
  if (!dir) return null;
  const read = async (f: string) => readFile(join(dir, f), 'utf8').catch(() => null);
  const card = await read('README.md');
  const front = card?.match(/^---\n([\s\S]*?)\n---/)?.[1].match(/^license:\s*([\w.+-]+)\s*$/m)?.[1];
  if (front) return front;
  for (const f of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'LICENCE']) {
    const text = await read(f);
    if (text === null) continue;
    if (/MIT License|Permission is hereby granted, free of charge/i.test(text)) return 'mit';
    if (/Apache License[\s\S]{0,200}Version 2\.0/i.test(text)) return 'apache-2.0';
    if (/Attribution-NonCommercial 4\.0/i.test(text)) return 'cc-by-nc-4.0';
    if (/Attribution-ShareAlike 4\.0/i.test(text)) return 'cc-by-sa-4.0';
    if (/Attribution 4\.0 International/i.test(text)) return 'cc-by-4.0';
    if (/CC0 1\.0/i.test(text)) return 'cc0-1.0';
    return 'other';
  }
  return null;
}

/** Where a Parquet part lies in its file (the rest of a PartRef comes from the file). */
export type ParquetRange = Pick<PartRef, 'rowGroups' | 'rowRange' | 'firstRow' | 'rows'>;

/**
 * A Parquet file's parts from its row groups' sizes: whole row groups together up to `partRows`
 * rows, and a row group larger than that cut into row ranges of `partRows` (the last one shorter),
 * so that a file of one huge row group (pyarrow writes 1M-row groups, DuckDB any size it is asked)
 * still becomes parts that resume and spread over ranks one by one. A file of one part is whole
 * (rowGroups null); a file of several names every part's row groups, the first one's included.
 */
export function parquetRanges(groups: readonly number[], partRows: number): ParquetRange[] {
  const out: ParquetRange[] = [];
  let start = 0; // first row group of the part being gathered
  let firstRow = 0; // its first row in the file
  let rows = 0;
  let row = 0; // the file's row at group g
  for (let g = 0; g < groups.length; g++) {
    if (g > start && rows + groups[g] > partRows) {
      out.push({ rowGroups: [start, g], firstRow, rows });
      start = g;
      firstRow = row;
      rows = 0;
    }
    if (groups[g] > partRows) {
      // Cut alone into row ranges; the next part starts with the next group.
      for (let lo = 0; lo < groups[g]; lo += partRows) {
        const n = Math.min(partRows, groups[g] - lo);
        out.push({ rowGroups: [g, g + 1], rowRange: [row + lo, row + lo + n], firstRow: row + lo, rows: n });
      }
      row += groups[g];
      start = g + 1;
      firstRow = row;
      continue;
    }
    rows += groups[g];
    row += groups[g];
  }
  if (start < groups.length) out.push({ rowGroups: [start, groups.length], firstRow, rows });
  if (out.length === 1 && !out[0].rowRange) return [{ ...out[0], rowGroups: null }];
  return out;
}

/** Plans the parts of a sorted file list. Unreadable Parquet files become one part that will fail. */
export async function planParts(files: readonly string[], options: PlanOptions): Promise<PartRef[]> {
  const drafts: Omit<PartRef, 'index' | 'count'>[] = [];
  const names = sourceNames(files);
  // One decoder for every footer; a new one after a file that crashed it.
  let decoder: ParquetDecoder | null = null;
  try {
    for (const [k, file] of files.entries()) {
      const source = names[k];
      const format = await sniffFormat(file);
      if (format === 'arrow') {
        // One part: an IPC stream has no footer to count or split its batches by.
        drafts.push({ file, source, format, rowGroups: null, firstRow: 0, rows: null });
        continue;
      }
      if (format === 'jsonl') {
        // gzip cannot be read from the middle: a .gz file is always one part.
        const size = (await stat(file)).size;
        const split = options.partBytes !== undefined && size > options.partBytes && !(/\.gz$/i.test(file) || (await isGzip(file)));
        if (split) options.note?.(`${source}: ${bytesText(size)}, read through once to cut it into parts of about ${bytesText(options.partBytes!)} at line starts`);
        const ranges = split ? await jsonlRanges(file, options.partBytes!) : [];
        if (ranges.length > 1) for (const r of ranges) drafts.push({ file, source, format, rowGroups: null, byteRange: [r.start, r.end], firstRow: r.firstRow, rows: null, approxRows: r.lines });
        else drafts.push({ file, source, format, rowGroups: null, firstRow: 0, rows: null, approxRows: await estimateJsonlRows(file) });
        continue;
      }
      decoder ??= new ParquetDecoder();
      const groups = await parquetRowGroups(file, decoder);
      if (decoder.crashed) {
        await decoder.close();
        decoder = null;
      }
      if (groups instanceof Error || groups.length === 0) {
        drafts.push({ file, source, format, rowGroups: null, firstRow: 0, rows: groups instanceof Error ? null : 0 });
        continue;
      }
      for (const range of parquetRanges(groups, options.partRows)) drafts.push({ file, source, format, ...range });
    }
  } finally {
    await decoder?.close();
  }
  return drafts.map((d, index) => ({ ...d, index, count: drafts.length }));
}

/** A size for messages, in KiB, MiB or GiB. */
function bytesText(bytes: number): string {
  const [unit, scale] = bytes < 2 ** 20 ? ['KiB', 2 ** 10] : bytes < 2 ** 30 ? ['MiB', 2 ** 20] : ['GiB', 2 ** 30];
  return `${(bytes / scale).toFixed(1)} ${unit}`;
}

/** Datatrove's rule: rank r takes parts r, r + n, r + 2n, ... */
export function partsForRank(parts: readonly PartRef[], rank: number, worldSize: number): PartRef[] {
  return parts.filter((p) => p.index % worldSize === rank);
}
