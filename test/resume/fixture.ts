/**
 * Shared by the resume, scale-out and merge tests (and the workers bench): a generated multi-part
 * input, a way to run the CLI as a child process, and a byte-level snapshot of an output folder.
 *
 * The input is JSON lines files (one part each) plus one Parquet file of several row groups that
 * `--part-rows` splits into parts, so both kinds of part are exercised. A few rows are bad on
 * purpose (chosen equal to rejected) so that rejects/ shards are not empty.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Schema, Field, Utf8, Int32 } from 'apache-arrow';
import { tableFromRows } from '../../schemas/output.js';
import { ParquetWriter } from '../../src/runtime/io/ParquetWriter.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { prng } from '../helpers/random.js';

export { prng };

const WORDS = 'the a model answer question safe harmful help refuse explain data pair prompt reply user assistant kind polite rude weather code bake bread river mountain policy rule small large quick slow'.split(' ');

function sentence(rand: () => number, words: number): string {
  return Array.from({ length: words }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ');
}

export interface InputSpec {
  /** JSON lines files, one part each. */
  readonly jsonlFiles: number;
  readonly rowsPerFile: number;
  /** Row groups of the Parquet file, and rows per group; `--part-rows` of 2 groups splits it. */
  readonly parquetGroups: number;
  readonly rowsPerGroup: number;
  readonly words: number;
  readonly seed: number;
}

export const smallSpec: InputSpec = { jsonlFiles: 6, rowsPerFile: 1500, parquetGroups: 4, rowsPerGroup: 750, words: 30, seed: 7 };

/** `--part-rows` that splits the Parquet file into parts of two row groups. */
export const partRowsFor = (spec: InputSpec) => spec.rowsPerGroup * 2;

/** Parts of the plan: one per JSON lines file plus the Parquet file's groups in twos. */
export const partsOf = (spec: InputSpec) => spec.jsonlFiles + Math.ceil(spec.parquetGroups / 2);

function row(rand: () => number, i: number, words: number): Record<string, unknown> {
  const prompt = `Q${i}: ${sentence(rand, words)}`;
  const chosen = sentence(rand, words);
  // Every 97th row is bad on purpose: a reject with a reason, not a lost row.
  const rejected = i % 97 === 5 ? chosen : sentence(rand, words);
  return { prompt, chosen, rejected, id: `r${i}` };
}

/** Writes the input into `dir` (created) and returns the folder. Same spec, same bytes. */
export async function makeInputs(dir: string, spec: InputSpec = smallSpec): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const rand = prng(spec.seed);
  let n = 0;
  for (let f = 0; f < spec.jsonlFiles; f++) {
    const lines: string[] = [];
    for (let r = 0; r < spec.rowsPerFile; r++) lines.push(JSON.stringify(row(rand, n++, spec.words)));
    writeFileSync(join(dir, `part-${String(f).padStart(2, '0')}.jsonl`), lines.join('\n') + '\n');
  }
  if (spec.parquetGroups === 0) return dir;
  const schema = new Schema([new Field('prompt', new Utf8()), new Field('chosen', new Utf8()), new Field('rejected', new Utf8()), new Field('id', new Utf8()), new Field('turns', new Int32())]);
  const writer = new ParquetWriter(join(dir, 'zz-big.parquet'), schema, { compression: 'snappy', rowGroupRows: spec.rowsPerGroup });
  for (let g = 0; g < spec.parquetGroups; g++) {
    const rows = Array.from({ length: spec.rowsPerGroup }, () => ({ ...row(rand, n++, spec.words), turns: 1 + Math.floor(rand() * 3) }));
    await writer.write(tableFromRows(schema, rows));
  }
  await writer.close();
  return dir;
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export const cliPath = () => join(projectRoot(), 'dist', 'src', 'cli', 'main.js');

export interface SpawnedCli {
  readonly pid: number;
  readonly done: Promise<CliRun>;
  kill(signal: NodeJS.Signals): void;
  /** stderr so far. */
  stderr(): string;
}

/** Starts `prefrank args...` as a child process; `shell` wraps it in `sh -c` (e.g. for ulimit). */
export function startCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; shellPrefix?: string; cwd?: string } = {}): SpawnedCli {
  const argv = [process.execPath, cliPath(), ...args];
  const proc = options.shellPrefix
    ? spawn('sh', ['-c', `${options.shellPrefix}; exec "$@"`, 'sh', ...argv], { env: { ...process.env, ...options.env }, cwd: options.cwd })
    : spawn(argv[0], argv.slice(1), { env: { ...process.env, ...options.env }, cwd: options.cwd });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d));
  proc.stderr.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<CliRun>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { pid: proc.pid!, done, kill: (s) => void proc.kill(s), stderr: () => stderr };
}

export function runCli(args: readonly string[], options: Parameters<typeof startCli>[1] = {}): Promise<CliRun> {
  return startCli(args, options).done;
}

/** Every file under `dir` (relative path -> sha256), optionally only under some subfolders. */
export function snapshot(dir: string, under: readonly string[] = ['data', 'rejects', 'lists']): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  for (const u of under) walk(join(dir, u));
  return out;
}

/** All files under `dir` whose name ends in `.tmp`. */
export function tmpFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.tmp')) found.push(relative(dir, p));
    }
  };
  walk(dir);
  return found.sort();
}

/** Waits until `pred()` holds, polling; fails after `ms`. */
export async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Whether a process is alive (signal 0 probes without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A completion record's fields, or null while it is not there. */
export function record(out: string, index: number): { rank: number; worldSize: number } | null {
  const f = join(out, 'completions', `${String(index).padStart(5, '0')}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { rank: number; worldSize: number }) : null;
}

/** manifest.json without the fields that say which rank wrote a shard (they differ by design). */
export function manifestSansRanks(out: string): unknown {
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { shards: Record<string, unknown>[] };
  return { ...m, shards: m.shards.map(({ rank: _r, worldSize: _w, ...rest }) => rest) };
}

/** Completion records present, by index. */
export function completions(out: string): number[] {
  const d = join(out, 'completions');
  return existsSync(d) ? readdirSync(d).filter((n) => /^\d{5}\.json$/.test(n)).map((n) => Number(n.slice(0, 5))).sort((a, b) => a - b) : [];
}

/** The tests' input: 8 parts (6 JSON lines files, a Parquet file of 4 row groups split in two). */
export const testSpec: InputSpec = { jsonlFiles: 6, rowsPerFile: 200, parquetGroups: 4, rowsPerGroup: 100, words: 16, seed: 11 };

/** The convert command line the tests run over `input` into `out`. */
export function convertArgs(input: string, out: string, spec: InputSpec = testSpec, extra: readonly string[] = []): string[] {
  return ['convert', input, '--out', out, '--part-rows', String(partRowsFor(spec)), '--batch-rows', '100', ...extra];
}

/**
 * Runs `prefrank args...` inside this process (convert and merge only), as main.ts would: a
 * UserError becomes `prefrank: <one line>` on stderr and its exit code. Start-up of the real CLI
 * costs over a second of CPU per run, so the tests spawn it only where a process is the point
 * (a kill, a signal, a ulimit, the real error line) and run everything else here.
 */
export async function runInProcess(args: readonly string[]): Promise<CliRun> {
  const { default: yargs } = await import('yargs');
  const { convertCommand } = await import('../../src/cli/commands/convert.js');
  const { mergeCommand } = await import('../../src/cli/commands/merge.js');
  const { oneLine, UsageError, UserError } = await import('../../src/runtime/errors.js');
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  let code = 0;
  try {
    await yargs([...args])
      .option('log-level', { choices: ['error', 'warn', 'info', 'debug'] as const, default: 'info' })
      .option('log-format', { choices: ['text', 'json'] as const, default: 'text' })
      .command(convertCommand as never)
      .command(mergeCommand as never)
      .strict()
      .fail((msg, err) => {
        throw err ?? new UsageError(msg);
      })
      .parseAsync();
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    stderr += `prefrank: ${oneLine(err)}\n`;
    code = err.exitCode;
  } finally {
    process.stderr.write = write;
    // A run that ends in failure sets process.exitCode; this test process must not inherit it.
    process.exitCode = undefined;
  }
  return { code, signal: null, stdout: '', stderr };
}
