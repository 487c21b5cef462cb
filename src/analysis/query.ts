/**
 * One user query over output folders: parameters checked and bound ($name, never spliced), the
 * result printed as a table (a bounded number of rows, streamed) or written whole by DuckDB's COPY
 * as CSV, JSON, JSON lines or Parquet.
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { DuckDbError, quoteLiteral, type DuckDb } from '../runtime/io/DuckDb.js';
import { UsageError, UserError } from '../runtime/errors.js';
import { formatTable } from './table.js';

export const FORMATS = ['table', 'csv', 'json', 'jsonl', 'parquet'] as const;
export type Format = (typeof FORMATS)[number];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `--param name=value` flags into a record of strings; a bad or repeated name is a usage error. */
export function parseParams(flags: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param ${flag}: expected name=value`);
    const name = flag.slice(0, eq);
    if (!IDENT.test(name)) throw new UsageError(`--param ${flag}: '${name}' is not a parameter name (letters, digits, _; used as $${name})`);
    if (Object.hasOwn(params, name)) throw new UsageError(`--param ${name}: given twice`);
    params[name] = flag.slice(eq + 1);
  }
  return params;
}

/** Parses `--attach name=DIR` flags. */
export function parseAttach(flags: readonly string[]): { name: string; dir: string }[] {
  const seen = new Set<string>();
  return flags.map((flag) => {
    const eq = flag.indexOf('=');
    if (eq <= 0 || eq === flag.length - 1) throw new UsageError(`--attach ${flag}: expected name=DIR`);
    const name = flag.slice(0, eq);
    if (seen.has(name.toLowerCase())) throw new UsageError(`--attach ${name}: given twice`);
    seen.add(name.toLowerCase());
    return { name, dir: flag.slice(eq + 1) };
  });
}

/** Checks that the text is one statement and that its $parameters and the given ones match. */
export async function checkQuery(db: DuckDb, sql: string, params: Readonly<Record<string, string>>): Promise<void> {
  if (!sql.trim()) throw new UsageError('the query is empty');
  const count = await queryFailure(() => db.statementCount(sql));
  if (count !== 1) throw new UsageError(`give exactly one SQL statement (got ${count})`);
  const used = await queryFailure(() => db.parameterNames(sql));
  for (const name of used) {
    if (!IDENT.test(name)) throw new UsageError(`the query uses a positional parameter ($${name} or ?); name it ($name) and pass --param name=value`);
    if (!Object.hasOwn(params, name)) throw new UsageError(`the query uses $${name}; pass --param ${name}=VALUE`);
  }
  for (const name of Object.keys(params)) {
    if (!used.includes(name)) throw new UsageError(`--param ${name}: the query has no $${name}`);
  }
}

/** Runs fn and turns a DuckDB error into a one-line user error that quotes DuckDB. */
export async function queryFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DuckDbError) throw new UserError(`query failed: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The COPY options of each file format. */
const COPY_OPTIONS: Record<Exclude<Format, 'table'>, string> = {
  csv: 'FORMAT csv, HEADER true',
  json: 'FORMAT json, ARRAY true',
  jsonl: 'FORMAT json',
  parquet: 'FORMAT parquet, COMPRESSION zstd',
};

/**
 * Writes the whole result to `file` with DuckDB's COPY (streamed by DuckDB, in result order). The
 * query text is the user's own and is wrapped, not spliced into; the file name is quoted.
 */
export async function exportQuery(db: DuckDb, sql: string, params: Readonly<Record<string, string>>, format: Exclude<Format, 'table'>, file: string): Promise<void> {
  // A trailing ';' would end the statement inside COPY ( ... ); a trailing '--' comment would eat ')'.
  const body = sql.trim().replace(/;\s*$/, '');
  await queryFailure(() => db.exec(`COPY (\n${body}\n) TO ${quoteLiteral(file)} (${COPY_OPTIONS[format]})`, params));
}

/** Writes the result in a file format to a stream (stdout): through a temporary file, so the bytes equal those of --out. */
export async function streamQuery(db: DuckDb, sql: string, params: Readonly<Record<string, string>>, format: 'csv' | 'json' | 'jsonl', out: Writable): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'prefrank-sql-'));
  try {
    const file = join(dir, `result.${format}`);
    await exportQuery(db, sql, params, format, file);
    // Not stream.pipeline: stdout must stay open after the copy.
    for await (const chunk of createReadStream(file)) if (!out.write(chunk)) await once(out, 'drain');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TableQueryResult {
  readonly text: string;
  readonly rows: number;
  readonly complete: boolean;
}

/** Reads at most maxRows rows (streaming) and formats them as an aligned table. */
export async function tableQuery(db: DuckDb, sql: string, params: Readonly<Record<string, string>>, maxRows: number, maxWidth: number): Promise<TableQueryResult> {
  const res = await queryFailure(() => db.readJson(sql, params, maxRows));
  const numeric = res.types.map((t) => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/.test(t));
  // FLOAT values arrive widened to double (0.9472464919090271); show the shortest float32 spelling.
  const rows = res.rows.map((r) => r.map((v, i) => (res.types[i] === 'FLOAT' && typeof v === 'number' ? shortFloat32(v) : v)));
  const text = formatTable(res.columns, rows, { maxWidth, rightAlign: numeric });
  return { text, rows: res.rows.length, complete: res.complete };
}

/** The shortest decimal that reads back as the same float32. */
export function shortFloat32(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === Math.fround(x)) return String(Number(s));
  }
  return String(x);
}
