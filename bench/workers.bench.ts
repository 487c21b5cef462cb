/**
 * `--workers`: 1 vs 2 worker processes of the real CLI on this machine (2 cores here), for
 * `convert` (no model: reading, validation and Parquet writing) and `rerank` with the default
 * model and probe (CPU-bound in onnxruntime). Reports rows/s over the whole command (start-up,
 * workers and the final merge included), the 2-vs-1 ratio, and peak RSS of the parent and of each
 * worker (getrusage maxRSS of every process, written by a preload on exit; `--import` is in the
 * parent's execArgv, so its workers inherit it), and the CPU seconds of all processes together
 * (what extra processes cost; on a shared machine it is steadier than wall time). The load average
 * is printed with each row: on a busy machine two workers cannot get two cores.
 *
 * For rerank the ONNX threads are split explicitly (--threads 2 for one worker, --threads 1 each
 * for two); the row "2, threads 0" shows two workers that each take every core.
 * PREFRANK_BENCH_WORKERS_REPEATS (default 2) sets the repeats; the median wall time is reported.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../src/runtime/paths.js';
import { makeInputs, type InputSpec } from '../test/resume/fixture.js';
import { median, type Bench, type Row } from './harness.js';

const run = promisify(execFile);
const REPEATS = Number(process.env.PREFRANK_BENCH_WORKERS_REPEATS ?? 2);
// PREFRANK_BENCH_FORCE=1 passes --force to rerank: throughput does not depend on whether the
// default probe was trained on this exact build of the default model (only its shapes must match).
const FORCE = process.env.PREFRANK_BENCH_FORCE === '1' ? ['--force'] : [];

interface Sample {
  readonly seconds: number;
  readonly rows: number;
  /** KiB, the process the bench started. */
  readonly parentRss: number;
  /** KiB, each worker process (empty when the command ran in one process). */
  readonly workerRss: number[];
  /** CPU seconds (user + system) of all the processes together. */
  readonly cpu: number;
}

async function runOnce(tmp: string, args: readonly string[]): Promise<Sample> {
  const rssDir = mkdtempSync(join(tmp, 'rss-'));
  const preload = join(rssDir, 'maxrss.mjs');
  writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssDir)} + '/' + process.pid + '.rss', JSON.stringify({ ppid: process.ppid, maxRSS: process.resourceUsage().maxRSS, cpu: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6 })));\n`);
  const out = join(tmp, 'out');
  rmSync(out, { recursive: true, force: true });
  const t0 = process.hrtime.bigint();
  const child = run(process.execPath, ['--import', preload, join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), ...args, '--out', out], { maxBuffer: 64 * 2 ** 20 });
  const pid = child.child.pid;
  await child;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { totals: { rowsIn: number } };
  let parentRss = 0;
  let cpu = 0;
  const workerRss: number[] = [];
  for (const f of readdirSync(rssDir).filter((n) => n.endsWith('.rss'))) {
    const r = JSON.parse(readFileSync(join(rssDir, f), 'utf8')) as { ppid: number; maxRSS: number; cpu: number };
    cpu += r.cpu;
    if (Number(f.split('.')[0]) === pid) parentRss = r.maxRSS;
    else workerRss.push(r.maxRSS);
  }
  return { seconds, rows: manifest.totals.rowsIn, parentRss, workerRss, cpu };
}

const mib = (kib: number) => Number((kib / 1024).toFixed(0));

async function compare(name: string, spec: InputSpec, configs: { label: string; args: string[] }[]): Promise<Row[]> {
  const tmp = mkdtempSync(join(tmpdir(), `prefrank-bench-workers-${name}-`));
  try {
    const input = await makeInputs(join(tmp, 'in'), spec);
    const rows: Row[] = [];
    let base = 0;
    for (const c of configs) {
      const samples: Sample[] = [];
      for (let i = 0; i < REPEATS; i++) {
        samples.push(await runOnce(tmp, [name, input, ...c.args]));
        process.stderr.write(`  ${name} ${c.label}: ${samples.at(-1)!.seconds.toFixed(2)} s (load ${loadavg()[0].toFixed(1)})\n`);
      }
      const seconds = median(samples.map((s) => s.seconds));
      const perSec = samples[0].rows / seconds;
      if (base === 0) base = perSec;
      const last = samples.at(-1)!;
      rows.push({
        command: name,
        workers: c.label,
        rows: samples[0].rows,
        seconds: Number(seconds.toFixed(2)),
        'rows/s': Number(perSec.toFixed(0)),
        'vs 1 worker': Number((perSec / base).toFixed(2)),
        'cpu s (all processes)': Number(median(samples.map((x) => x.cpu)).toFixed(2)),
        'parent peak RSS MiB': mib(last.parentRss),
        'worker peak RSS MiB': last.workerRss.length ? last.workerRss.map(mib).join(' / ') : '(in parent)',
        'load avg': Number(loadavg()[0].toFixed(1)),
      });
    }
    return rows;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export const benches: Bench[] = [
  {
    name: 'workers-convert',
    description: `convert, 64000 rows in 8 JSON lines files: --workers 1 vs 2 on ${availableParallelism()} cores`,
    run: () =>
      compare('convert', { jsonlFiles: 8, rowsPerFile: 8000, parquetGroups: 0, rowsPerGroup: 0, words: 30, seed: 3 }, [
        { label: '1', args: ['--workers', '1'] },
        { label: '2', args: ['--workers', '2'] },
      ]),
  },
  {
    name: 'workers-rerank',
    description: `rerank (default model and probe), 8000 pairs in 8 JSON lines files: --workers 1 vs 2 on ${availableParallelism()} cores`,
    run: () =>
      compare('rerank', { jsonlFiles: 8, rowsPerFile: 1000, parquetGroups: 0, rowsPerGroup: 0, words: 30, seed: 5 }, [
        { label: '1', args: ['--workers', '1', '--threads', '2', ...FORCE] },
        { label: '2', args: ['--workers', '2', '--threads', '1', ...FORCE] },
        { label: '2, threads 0', args: ['--workers', '2', '--threads', '0', ...FORCE] },
      ]),
  },
];
