/**
 * `stats` and `report` on 1M generated pairs (10 shards of 100k, texts of 200-500 characters):
 * wall time and peak RSS of the real CLI, each run in its own child process. Peak RSS is the
 * child's getrusage maxRSS (DuckDB's native memory included), written by a preload on exit.
 *
 * Set PREFRANK_BENCH_PAIRS to change the size (e.g. 100000 for a quick run).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../src/runtime/paths.js';
import { makeOutputFolder } from '../test/helpers/makeOutputFolder.js';
import { median, type Bench, type Row } from './harness.js';

const run = promisify(execFile);
const PAIRS = Number(process.env.PREFRANK_BENCH_PAIRS ?? 1_000_000);
const SHARDS = 10;
const REPEATS = 3;

let folder: Promise<{ dir: string; tmp: string; bytes: number; seconds: number }> | null = null;

/** Generates the folder once per bench process and removes it on exit. */
function generated(): Promise<{ dir: string; tmp: string; bytes: number; seconds: number }> {
  folder ??= (async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'prefrank-bench-analysis-'));
    process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
    const dir = join(tmp, 'out');
    const t0 = process.hrtime.bigint();
    const rowsPerShard = Math.ceil(PAIRS / SHARDS);
    makeOutputFolder({ dir, shards: SHARDS, rowsPerShard, rejectsPerShard: Math.ceil(rowsPerShard / 1000), textChars: [200, 500], rowGroupRows: 20_000, seed: 1 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    let bytes = 0;
    for (const sub of ['data', 'rejects']) for (const f of readdirSync(join(dir, sub))) bytes += statSync(join(dir, sub, f)).size;
    process.stderr.write(`generated ${rowsPerShard * SHARDS} pairs in ${SHARDS} shards (${(bytes / 2 ** 20).toFixed(0)} MiB of Parquet) in ${seconds.toFixed(1)} s\n`);
    return { dir, tmp, bytes, seconds };
  })();
  return folder;
}

/** Runs the CLI in a child process; returns wall seconds and the child's peak RSS in MiB. */
async function measure(tmp: string, args: string[]): Promise<{ seconds: number; maxRssMiB: number }> {
  const rssFile = join(tmp, `rss-${process.hrtime.bigint()}.txt`);
  // A preload that records the process's own peak RSS (KiB, getrusage) when it exits.
  const preload = join(tmp, 'maxrss.mjs');
  writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
  const t0 = process.hrtime.bigint();
  await run(process.execPath, ['--import', preload, join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), ...args], { maxBuffer: 256 * 2 ** 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const maxRssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024;
  return { seconds, maxRssMiB };
}

async function bench(name: string, args: (dir: string, tmp: string) => string[]): Promise<Row[]> {
  const { dir, tmp, bytes, seconds: genSeconds } = await generated();
  const runs: { seconds: number; maxRssMiB: number }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    runs.push(await measure(tmp, args(dir, tmp)));
    process.stderr.write(`${name} run ${i + 1}: ${runs[i].seconds.toFixed(2)} s, peak RSS ${runs[i].maxRssMiB.toFixed(0)} MiB\n`);
  }
  return [
    {
      command: name,
      pairs: Math.ceil(PAIRS / SHARDS) * SHARDS,
      shards: SHARDS,
      parquetMiB: Math.round(bytes / 2 ** 20),
      seconds: median(runs.map((r) => r.seconds)),
      minSeconds: Math.min(...runs.map((r) => r.seconds)),
      peakRssMiB: Math.round(Math.max(...runs.map((r) => r.maxRssMiB))),
      repeats: REPEATS,
      generateSeconds: Math.round(genSeconds * 10) / 10,
      loadAvg1m: Math.round(loadavg()[0] * 100) / 100,
    },
  ];
}

export const benches: Bench[] = [
  {
    name: 'analysis-stats',
    description: `prefrank stats on ${PAIRS} generated pairs (child process; wall time and peak RSS)`,
    run: () => bench('stats', (dir) => ['stats', dir, '--json']),
  },
  {
    name: 'analysis-report',
    description: `prefrank report on ${PAIRS} generated pairs (child process; wall time and peak RSS)`,
    run: () => bench('report', (dir, tmp) => ['report', dir, '--out', join(tmp, 'report.html')]),
  },
];
