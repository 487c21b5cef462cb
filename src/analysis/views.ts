/**
 * Views over one `rerank` output folder: `pairs` (data/*.parquet), `rejects` (rejects/*.parquet) and
 * `shards` (one row per manifest shard). A folder is opened either into the main schema (plain
 * `pairs`) or into its own schema (`before.pairs`), so several folders can sit side by side.
 *
 * Shards may differ in pass-through columns, so Parquet files are read with union_by_name. A folder
 * with no data or rejects files still gets the view, empty and typed from schemas/output.ts, so the
 * same queries work on every folder.
 */
import { dataFolderOf, MANIFEST_FILE } from '../../schemas/layout.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DataType, Field } from 'apache-arrow';
import { pairOutputFields, rejectFields } from '../../schemas/output.js';
import type { Manifest, ShardResult } from '../../schemas/manifest.js';
import { quoteIdent, type DuckDb } from '../runtime/io/DuckDb.js';
import { committedFiles } from '../runtime/io/OutputFolder.js';
import { shardFiles, shardScan } from '../runtime/io/shardFiles.js';
import { UserError, UsageError } from '../runtime/errors.js';

/** Names that cannot be used for an attached folder's schema (DuckDB's own schemas and catalogs). */
const RESERVED_SCHEMAS = new Set(['main', 'temp', 'system', 'memory', 'information_schema', 'pg_catalog']);

export interface OutputFolder {
  readonly dir: string;
  readonly dataFiles: readonly string[];
  readonly rejectFiles: readonly string[];
  readonly manifest: Manifest | null;
}

/** Reads the folder's layout and manifest; throws a UserError naming the folder when it is not one. */
export function openOutputFolder(dir: string): OutputFolder {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new UserError(`${dir}: no such folder`);
  if (!statSync(abs).isDirectory()) throw new UserError(`${dir}: not a folder`);
  const manifestPath = join(abs, MANIFEST_FILE);
  const hasData = existsSync(join(abs, dataFolderOf('rerank')));
  if (!hasData && !existsSync(manifestPath)) throw new UserError(`${dir}: not a prefrank output folder (no data/ and no manifest.json)`);
  let manifest: Manifest | null = null;
  if (existsSync(manifestPath)) {
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    } catch (e) {
      throw new UserError(`${join(dir, MANIFEST_FILE)}: not valid JSON (${(e as Error).message})`);
    }
    if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.shards)) {
      throw new UserError(`${join(dir, MANIFEST_FILE)}: not a prefrank manifest (no shards array)`);
    }
  }
  // Only shards whose part recorded its completion: a stopped run may leave one renamed into place
  // without its record, and its rows would be counted twice once the rerun writes it again.
  const committed = committedFiles(abs);
  return { dir: abs, dataFiles: shardFiles(abs, dataFolderOf('rerank'), committed), rejectFiles: shardFiles(abs, 'rejects', committed), manifest };
}

function duckType(t: DataType): string {
  const name = String(t);
  if (name === 'Utf8') return 'VARCHAR';
  if (name === 'Float32') return 'FLOAT';
  if (name === 'Float64') return 'DOUBLE';
  if (name === 'Bool') return 'BOOLEAN';
  if (name === 'Int64') return 'BIGINT';
  if (name === 'Int32') return 'INTEGER';
  throw new Error(`no DuckDB type for Arrow ${name}`);
}

/** A typed, empty relation with the given columns (for a folder without files of that kind). */
function emptySelect(fields: readonly Field[]): string {
  return `SELECT ${fields.map((f) => `NULL::${duckType(f.type)} AS ${quoteIdent(f.name)}`).join(', ')} WHERE false`;
}

/** A relation over shard files of either format (Arrow shards through their Parquet copies). */
async function shardSelect(shards: readonly string[], fields: readonly Field[]): Promise<string> {
  if (shards.length === 0) return emptySelect(fields);
  return `SELECT * FROM ${await shardScan(shards)}`;
}

const SHARD_COLUMNS = `
  "index" INTEGER, status VARCHAR, error VARCHAR, input_file VARCHAR, row_group_start INTEGER, row_group_end INTEGER,
  output VARCHAR, rejects VARCHAR, output_sha256 VARCHAR, rows_in BIGINT, rows_out BIGINT, rows_rejected BIGINT,
  rows_flipped BIGINT, rows_truncated BIGINT, rejects_by_reason MAP(VARCHAR, BIGINT), confidence_histogram BIGINT[],
  "rank" INTEGER, world_size INTEGER, config_hash VARCHAR,
  expected_wrong_flips DOUBLE, expected_wrong_after DOUBLE, expected_wrong_before DOUBLE, held_back BIGINT,
  row_start BIGINT, row_end BIGINT`;

/** Validates an --attach name: a plain identifier that is not one of DuckDB's own schemas. */
export function checkSchemaName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--attach ${name}: the name must be a plain identifier (letters, digits, _)`);
  if (RESERVED_SCHEMAS.has(name.toLowerCase())) throw new UsageError(`--attach ${name}: '${name}' is reserved by DuckDB; pick another name`);
}

/**
 * Creates `pairs`, `rejects` and `shards` for a folder, in the main schema or (with `schema`) as
 * `schema.pairs`, `schema.rejects`, `schema.shards`.
 */
export async function createOutputViews(db: DuckDb, folder: OutputFolder, schema?: string): Promise<void> {
  let prefix = '';
  if (schema !== undefined) {
    checkSchemaName(schema);
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    prefix = `${quoteIdent(schema)}.`;
  }
  await db.createView(`${prefix}pairs`, await shardSelect(folder.dataFiles, pairOutputFields));
  await db.createView(`${prefix}rejects`, await shardSelect(folder.rejectFiles, rejectFields));
  // A table, not a view: the manifest is JSON read here, and it is small (one row per shard).
  await db.exec(`CREATE OR REPLACE TABLE ${prefix}shards (${SHARD_COLUMNS})`);
  for (const s of folder.manifest?.shards ?? []) await insertShard(db, `${prefix}shards`, s);
}

async function insertShard(db: DuckDb, table: string, s: ShardResult): Promise<void> {
  const st = s.stats ?? ({} as Partial<ShardResult['stats']>);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  await db.exec(
    `INSERT INTO ${table} VALUES ($index, $status, $error, $input_file, $rg0, $rg1, $output, $rejects, $sha,
       $rows_in, $rows_out, $rows_rejected, $rows_flipped, $rows_truncated,
       $by_reason::JSON::MAP(VARCHAR, BIGINT), $hist::JSON::BIGINT[], $rank, $world_size, $config_hash,
       $ewf, $ewa, $ewb, $held_back, $row_start, $row_end)`,
    {
      index: num(s.index),
      status: str(s.status),
      error: str(s.error),
      input_file: str(s.input?.file),
      rg0: num(s.input?.rowGroups?.[0]),
      rg1: num(s.input?.rowGroups?.[1]),
      output: str(s.output),
      rejects: str(s.rejects),
      sha: str(s.outputSha256),
      rows_in: num(st.rowsIn),
      rows_out: num(st.rowsOut),
      rows_rejected: num(st.rowsRejected),
      rows_flipped: num(st.rowsFlipped),
      rows_truncated: num(st.rowsTruncated),
      by_reason: JSON.stringify(st.rejectsByReason ?? {}),
      hist: JSON.stringify(Array.isArray(s.confidenceHistogram) ? s.confidenceHistogram : []),
      rank: num(s.rank),
      world_size: num(s.worldSize),
      config_hash: str(s.configHash),
      ewf: num(s.expectedErrors?.expectedWrongFlips),
      ewa: num(s.expectedErrors?.expectedWrongAfter),
      ewb: num(s.expectedErrors?.expectedWrongBefore),
      held_back: num(s.expectedErrors?.heldBack),
      // Set for a part cut out of a row group larger than --part-rows: its rows [start, end) in the file.
      row_start: num(s.input?.rowRange?.[0]),
      row_end: num(s.input?.rowRange?.[1]),
    },
  );
}
