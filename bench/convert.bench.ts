/**
 * convert throughput and peak memory on a generated 1M-pair input (JSONL and Parquet), against
 * DuckDB's own `COPY (SELECT ... FROM read_json/read_parquet) TO ... (FORMAT parquet, COMPRESSION zstd)`
 * of the same data. Each run is a child process, so its peak RSS is its own (/usr/bin/time -v when
 * present, else the child's process.resourceUsage().maxRSS).
 *
 * Rows reuse the real HH-RLHF texts cyclically, each with a row suffix so no two rows are equal.
 * BENCH_CONVERT_ROWS sets the size (default 1,000,000), BENCH_CONVERT_REPEATS the runs per
 * measurement (default: 3 for DuckDB, 1 for prefrank, whose 1M-row run takes minutes).
 *
 * Beside them, prefrank's reader alone (readAlone.ts): the same parts read into JS records and
 * dropped, the floor of a convert whose rows go through TypeScript operators.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { median, type Bench, type Row } from './harness.js';
import { projectRoot, sharedHhFile, sharedJsonLines } from '../src/runtime/paths.js';

export interface Measured {
  readonly seconds: number;
  readonly maxRssMiB: number;
  readonly code: number | null;
  readonly stderr: string;
}

const TIME = '/usr/bin/time';

/** Runs node with args in a child; wall time from here, peak RSS from GNU time or the child itself. */
export async function measure(args: readonly string[], cwd: string): Promise<Measured> {
  const useTime = existsSync(TIME);
  // Without GNU time, a preload reports the child's own maxRSS on exit.
  const preload = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nMAXRSS_KB '+process.resourceUsage().maxRSS+'\\n'))`;
  const cmd = useTime ? TIME : process.execPath;
  const argv = useTime ? ['-v', process.execPath, ...args] : ['--import', preload, ...args];
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const kb = Number((useTime ? /Maximum resident set size \(kbytes\): (\d+)/ : /MAXRSS_KB (\d+)/).exec(stderr)?.[1] ?? NaN);
  return { seconds, maxRssMiB: kb / 1024, code, stderr };
}

/** Writes `rows` HH-style pairs as JSON lines (streamed, so the generator's memory stays small). */
export async function writeInput(file: string, rows: number): Promise<void> {
  const hh = sharedJsonLines(sharedHhFile()).map((l) => JSON.parse(l) as { chosen: string; rejected: string });
  const out = createWriteStream(file);
  let buf = '';
  for (let i = 0; i < rows; i++) {
    const r = hh[i % hh.length];
    buf += JSON.stringify({ chosen: `${r.chosen} [row ${i}]`, rejected: `${r.rejected} [row ${i}]` }) + '\n';
    if (buf.length > 1 << 22) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** A DuckDB child: runs one SQL statement (the COPY) through @duckdb/node-api. */
export function duckdbArgs(sql: string): string[] {
  const script = `import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(${JSON.stringify(sql)});
c.closeSync();`;
  return ['--input-type=module', '-e', script];
}

export const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function run(): Promise<Row[]> {
  const rows = Number(process.env.BENCH_CONVERT_ROWS ?? 1_000_000);
  const prefrankRepeats = Number(process.env.BENCH_CONVERT_REPEATS ?? 1);
  const duckRepeats = Number(process.env.BENCH_CONVERT_REPEATS ?? 3);
  const dir = await mkdtemp(join(tmpdir(), 'prefrank-bench-convert-'));
  const root = projectRoot();
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const readAlone = join(root, 'dist', 'bench', 'readAlone.js');
  try {
    const jsonl = join(dir, 'pairs.jsonl');
    const parquet = join(dir, 'pairs.parquet');
    process.stderr.write(`generating ${rows} pairs in ${dir} ...\n`);
    await writeInput(jsonl, rows);
    // The Parquet input: DuckDB writes it from the JSON lines, row groups of 100k as most producers do.
    const gen = await measure(duckdbArgs(`COPY (SELECT chosen, rejected FROM read_json(${lit(jsonl)}, format = 'newline_delimited', columns = {chosen: 'VARCHAR', rejected: 'VARCHAR'})) TO ${lit(parquet)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)`), root);
    if (gen.code !== 0) throw new Error(`generating Parquet failed: ${gen.stderr}`);

    const out: Row[] = [];
    const inputs = [
      ['jsonl', jsonl, `read_json(${lit(jsonl)}, format = 'newline_delimited', columns = {chosen: 'VARCHAR', rejected: 'VARCHAR'})`],
      ['parquet', parquet, `read_parquet(${lit(parquet)})`],
    ] as const;
    for (const [format, file, reader] of inputs) {
      const mb = statSync(file).size / 2 ** 20;
      const tools = [
        ['prefrank convert', prefrankRepeats, (i: number) => [cli, 'convert', file, '--out', join(dir, `out-${format}-${i}`), '--log-level', 'warn']],
        // convert's floor: its reader with nothing after it (readAlone.ts); --out is not written.
        ['prefrank reader alone', prefrankRepeats, (i: number) => [readAlone, file, '--out', join(dir, `out-${format}-${i}`)]],
        ['duckdb COPY', duckRepeats, (i: number) => duckdbArgs(`COPY (SELECT chosen, rejected FROM ${reader}) TO ${lit(join(dir, `duck-${format}-${i}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`)],
      ] as const;
      for (const [tool, repeats, args] of tools) {
        const runs: Measured[] = [];
        for (let i = 0; i < repeats; i++) {
          const load = loadavg()[0];
          const m = await measure(args(i), root);
          if (m.code !== 0) throw new Error(`${tool} on ${format} exited ${m.code}: ${m.stderr.slice(-2000)}`);
          process.stderr.write(`${tool} ${format} run ${i + 1}/${repeats}: ${m.seconds.toFixed(1)} s, ${m.maxRssMiB.toFixed(0)} MiB peak RSS (load ${load.toFixed(1)})\n`);
          runs.push(m);
          await rm(join(dir, `out-${format}-${i}`), { recursive: true, force: true });
          await rm(join(dir, `duck-${format}-${i}.parquet`), { force: true });
        }
        const s = median(runs.map((r) => r.seconds));
        out.push({
          input: format,
          tool,
          rows,
          input_mib: Math.round(mb),
          runs: repeats,
          seconds: s,
          rows_per_s: Math.round(rows / s),
          mib_per_s: mb / s,
          peak_rss_mib: Math.round(median(runs.map((r) => r.maxRssMiB))),
          load_1m: Number(loadavg()[0].toFixed(1)),
        });
      }
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const benches: Bench[] = [
  {
    name: 'convert',
    description: 'prefrank convert vs DuckDB COPY ... TO parquet on generated HH-style pairs (JSONL and Parquet input): rows/s, MiB/s, peak RSS',
    run,
  },
];
