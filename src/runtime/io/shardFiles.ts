/**
 * The shard files of an output folder as readers see them: committed shards of either format, and
 * the way DuckDB reads them. DuckDB reads Parquet natively, but its Arrow extension cannot be
 * installed on machines without a network (it is downloaded on first use), so an Arrow IPC shard is
 * read through a Parquet copy: streamed batch by batch (bounded memory) into a cache file named by
 * the shard's sha256, written atomically and reused by every later query of the same bytes.
 */
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RecordBatchReader, Table } from 'apache-arrow';
import { shardFormatOf, isTmpName, type ShardFolder } from '../../../schemas/layout.js';
import { UserError } from '../errors.js';
import { sha256File } from '../hash.js';
import { quoteLiteral } from './DuckDb.js';
import { ParquetWriter } from './ParquetWriter.js';

/** Where the Parquet copies of Arrow shards are kept (PREFRANK_CACHE_DIR overrides it). */
export function arrowCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PREFRANK_CACHE_DIR || join(tmpdir(), 'prefrank-cache'), 'arrow-as-parquet');
}

/**
 * The shard files of one shard folder, full paths, sorted; hidden and temporary files are skipped,
 * and with `committed` (completionFiles) so is every shard no completion record names.
 */
export function shardFiles(outDir: string, sub: ShardFolder, committed: ReadonlySet<string> | null): string[] {
  const folder = join(outDir, sub);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => shardFormatOf(f) !== null && !f.startsWith('.') && !isTmpName(f) && (committed === null || committed.has(`${sub}/${f}`)))
    .sort()
    .map((f) => join(folder, f));
}

/** Each file as DuckDB's read_parquet can read it: Parquet as it is, an Arrow shard as its cached Parquet copy. */
export async function asParquet(files: readonly string[], cacheDir = arrowCacheDir()): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) out.push(shardFormatOf(f) === 'arrow' ? await parquetCopy(f, cacheDir) : f);
  return out;
}

/**
 * DuckDB's scan of shard files of either format, for a FROM clause: `read_parquet([...],
 * union_by_name = true)` over the files as asParquet gives them (shards may differ in pass-through
 * columns). Paths are quoted as literals, since views (DDL) take no parameters. At least one file.
 */
export async function shardScan(shards: readonly string[], cacheDir = arrowCacheDir()): Promise<string> {
  const files = await asParquet(shards, cacheDir);
  return `read_parquet([${files.map(quoteLiteral).join(', ')}], union_by_name = true)`;
}

async function parquetCopy(file: string, cacheDir: string): Promise<string> {
  const copy = join(cacheDir, `${await sha256File(file)}.parquet`);
  if (existsSync(copy)) return copy;
  await mkdir(cacheDir, { recursive: true });
  let writer: ParquetWriter | null = null;
  // A name of this process's own first (two processes may copy the same shard at once), then the
  // rename that makes the copy visible whole.
  const mine = join(cacheDir, `${basename(copy, '.parquet')}.${process.pid}.parquet`);
  try {
    const reader = await RecordBatchReader.from(createReadStream(file));
    await reader.open();
    writer = new ParquetWriter(mine, reader.schema, { compression: 'snappy', rowGroupRows: 100_000 });
    for await (const batch of reader) await writer.write(new Table(batch));
    await writer.close();
    await rename(mine, copy);
  } catch (err) {
    await rm(mine, { force: true });
    await writer?.abort();
    throw new UserError(`${file}: not a readable Arrow IPC stream file (${(err as Error).message})`, { cause: err });
  }
  return copy;
}
