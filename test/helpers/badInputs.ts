/**
 * Fixtures for the spine's tests: real HH-RLHF rows from ../shared/data, the other input layouts
 * built from those real texts, Parquet/JSONL writers for generated inputs, a generator of the
 * bad-input corpus (each file with the outcome it must have), and a runner for the CLI as a child
 * process. Everything is written under a caller-given temporary folder.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bool, Int64, Table, tableToIPC, Utf8, vectorFromArray, type DataType } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { projectRoot, sharedHhFile, sharedJsonLines } from '../../src/runtime/paths.js';
import { MANIFEST_FILE } from '../../schemas/layout.js';
import type { Manifest } from '../../schemas/manifest.js';

export interface HhRow {
  readonly chosen: string;
  readonly rejected: string;
}

let hhCache: HhRow[] | null = null;

/** The 2,312 real HH-RLHF harmless-base test rows, in file order. */
export function hhRows(): HhRow[] {
  hhCache ??= sharedJsonLines(sharedHhFile()).map((l) => JSON.parse(l) as HhRow);
  return hhCache;
}

/** An output folder's manifest.json. */
export function readManifest(out: string): Manifest {
  return JSON.parse(readFileSync(join(out, MANIFEST_FILE), 'utf8')) as Manifest;
}

export interface Message {
  role: string;
  content: string;
}

/** Parses HH dialogue text ("\n\nHuman: ...\n\nAssistant: ...") into messages; null when it does not round-trip. */
export function hhMessages(text: string): Message[] | null {
  const parts = text.split(/\n\n(Human|Assistant): /);
  if (parts[0] !== '') return null;
  const out: Message[] = [];
  for (let i = 1; i < parts.length; i += 2) out.push({ role: parts[i] === 'Human' ? 'user' : 'assistant', content: parts[i + 1] });
  const back = out.map((m) => `\n\n${m.role === 'user' ? 'Human' : 'Assistant'}: ${m.content}`).join('');
  return back === text ? out : null;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `prefrank-${prefix}-`));
}

export function writeJsonl(file: string, rows: readonly unknown[]): void {
  writeFileSync(file, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + (rows.length ? '\n' : ''));
}

export type ColumnSpec = Readonly<Record<string, { type: DataType; values: readonly unknown[] }>>;

/** An Arrow table with exactly the given column types (nothing inferred). */
export function arrowTable(columns: ColumnSpec): Table {
  return new Table(Object.fromEntries(Object.entries(columns).map(([name, c]) => [name, vectorFromArray(c.values as unknown[], c.type)])));
}

/** Writes a Parquet file with row groups of at most `rowGroupRows` rows. */
export function writeParquetFile(file: string, table: Table, rowGroupRows = 1 << 20): void {
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setMaxRowGroupSize(rowGroupRows).build();
  writeFileSync(file, pw.writeParquet(pw.Table.fromIPCStream(tableToIPC(table, 'stream')), props));
}

/** HH rows as a Parquet table (chosen, rejected, a pass-through `subset` and an int64 `n`). */
export function hhParquetTable(rows: readonly HhRow[], firstN = 0): Table {
  return arrowTable({
    chosen: { type: new Utf8(), values: rows.map((r) => r.chosen) },
    rejected: { type: new Utf8(), values: rows.map((r) => r.rejected) },
    subset: { type: new Utf8(), values: rows.map(() => 'harmless-base') },
    n: { type: new Int64(), values: rows.map((_, i) => BigInt(firstN + i)) },
  });
}

/** One file of the bad-input corpus and what converting it must give. */
export interface CorpusFile {
  /** Relative to the corpus folder's parent (the CLI's working folder), as the outputs show it. */
  readonly name: string;
  /** Input rows (non-blank lines, or Parquet rows). */
  readonly rows: number;
  readonly rowsOut: number;
  /** Full reason per rejected source row. */
  readonly rejects: Readonly<Record<number, string>>;
  /** Set when the file cannot be read at all: the part fails. */
  readonly fails?: RegExp;
}

export const FIVE_MB = 5 * 2 ** 20;

/**
 * Writes the bad-input corpus into `root/corpus/` and returns each file with its expected outcome
 * under the default flags (auto format, --max-text-chars 1,000,000, --max-row-bytes 16 MiB).
 */
export function makeBadCorpus(root: string): CorpusFile[] {
  const dir = join(root, 'corpus');
  mkdirSync(dir, { recursive: true });
  const hh = hhRows();
  const [a, b, c, d] = hh;
  const files: CorpusFile[] = [];
  const at = (f: string) => join(dir, f);

  // Good and bad rows mixed in one JSON-lines file; line numbers are the rows' source_row.
  const mixed: unknown[] = [
    a, // 0 good (implicit)
    { chosen: null, rejected: b.rejected }, // 1
    { chosen: 42, rejected: b.rejected }, // 2
    { chosen: c.chosen, rejected: c.chosen }, // 3
    { chosen: c.chosen }, // 4: no `rejected`, so no layout fits
    '{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: x", "rejected": ', // 5: cut mid-line
    '["chosen", "rejected"]', // 6
    { id: 'dup-1', prompt: 'p1', chosen: ' yes', rejected: ' no' }, // 7 good (explicit)
    { id: 'dup-1', prompt: 'p2', chosen: ' yes 2', rejected: ' no 2' }, // 8 same id
    { prompt: 'p3', response_0: 'r0', response_1: 'r1' }, // 9 PKU without safer_response_id
    { chosen: '   ', rejected: b.rejected }, // 10
    { chosen: 'no dialogue here', rejected: 'none here either' }, // 11
    d, // 12 good
  ];
  writeJsonl(at('mixed.jsonl'), mixed);
  files.push({
    name: 'corpus/mixed.jsonl',
    rows: 13,
    rowsOut: 3,
    rejects: {
      1: 'null text: chosen',
      2: 'wrong type: chosen is number, expected a string',
      3: 'chosen equals rejected',
      4: 'missing column: rejected',
      5: 'invalid JSON',
      6: 'not a JSON object',
      8: 'duplicate id: dup-1',
      9: 'missing column: safer_response_id',
      10: 'empty text: chosen',
      11: 'implicit prompt: chosen and rejected share no dialogue up to an Assistant turn',
    },
  });

  // Invalid UTF-8 inside a JSON string, between two good rows.
  const bad = Buffer.concat([Buffer.from('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: caf'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: no"}')]);
  writeFileSync(at('utf8.jsonl'), Buffer.concat([Buffer.from(JSON.stringify(a) + '\n'), bad, Buffer.from('\n' + JSON.stringify(b) + '\n')]));
  files.push({ name: 'corpus/utf8.jsonl', rows: 3, rowsOut: 2, rejects: { 1: 'invalid UTF-8' } });

  // A 5 MB text field: over the default --max-text-chars (1,000,000) but under --max-row-bytes.
  writeJsonl(at('huge.jsonl'), [
    { prompt: 'Tell me a long story.', chosen: 'x'.repeat(FIVE_MB), rejected: ' short' },
    { prompt: 'Tell me a short story.', chosen: ' Once.', rejected: ' No.' },
  ]);
  files.push({ name: 'corpus/huge.jsonl', rows: 2, rowsOut: 1, rejects: { 0: `text too long: chosen has ${FIVE_MB} characters (limit 1000000)` } });

  // Empty files: a JSON-lines file with no rows is a valid, empty part; a 0-byte .parquet is not Parquet.
  writeFileSync(at('empty.jsonl'), '');
  files.push({ name: 'corpus/empty.jsonl', rows: 0, rowsOut: 0, rejects: {} });
  writeFileSync(at('empty-bytes.parquet'), '');
  files.push({ name: 'corpus/empty-bytes.parquet', rows: 0, rowsOut: 0, rejects: {}, fails: /empty-bytes\.parquet: not a readable Parquet file/ });
  // A valid Parquet file with a schema and no rows.
  writeParquetFile(at('empty-rows.parquet'), hhParquetTable([]));
  files.push({ name: 'corpus/empty-rows.parquet', rows: 0, rowsOut: 0, rejects: {} });

  // Real rows in Parquet, with a null text and wrong types.
  const pq = hh.slice(4, 14);
  writeParquetFile(
    at('good.parquet'),
    arrowTable({
      chosen: { type: new Utf8(), values: pq.map((r, i) => (i === 3 ? null : r.chosen)) },
      rejected: { type: new Utf8(), values: pq.map((r) => r.rejected) },
      chosen_safe: { type: new Bool(), values: pq.map((_, i) => (i % 2 === 0 ? true : null)) },
      subset: { type: new Utf8(), values: pq.map(() => 'harmless-base') },
    }),
    4,
  );
  files.push({ name: 'corpus/good.parquet', rows: 10, rowsOut: 9, rejects: { 3: 'null text: chosen' } });
  writeParquetFile(
    at('wrong-type.parquet'),
    arrowTable({ chosen: { type: new Int64(), values: [1n, 2n] }, rejected: { type: new Utf8(), values: [a.rejected, b.rejected] } }),
  );
  files.push({ name: 'corpus/wrong-type.parquet', rows: 2, rowsOut: 0, rejects: { 0: 'wrong type: chosen is bigint, expected a string', 1: 'wrong type: chosen is bigint, expected a string' } });

  // Truncated Parquet: the real file cut before its footer.
  const whole = readFileSync(at('good.parquet'));
  writeFileSync(at('truncated.parquet'), whole.subarray(0, Math.floor(whole.length / 2)));
  files.push({ name: 'corpus/truncated.parquet', rows: 0, rowsOut: 0, rejects: {}, fails: /truncated\.parquet: not a readable Parquet file/ });
  // Not Parquet at all, named .parquet.
  writeFileSync(at('not-parquet.parquet'), JSON.stringify(a) + '\n');
  files.push({ name: 'corpus/not-parquet.parquet', rows: 0, rowsOut: 0, rejects: {}, fails: /not-parquet\.parquet: not a readable Parquet file/ });

  // Inputs are processed in sorted order: the manifest's shards follow it.
  return files.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args` (resolved from the project root) in `cwd`. */
export function runCli(args: readonly string[], cwd: string = projectRoot()): Promise<CliResult> {
  const main = join(projectRoot(), 'dist', 'src', 'cli', 'main.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
