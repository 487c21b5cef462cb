/**
 * The I/O engine's limits on generated HH-style pairs: how peak RSS of `convert` grows from 100k to
 * 1M rows (JSON lines; Parquet with one row group per file, the worst case for a reader that holds
 * a row group), and how long a run takes to stop after SIGINT, a few seconds in. Each run is a child
 * process (see convert.bench.ts). BENCH_IO_ROWS sets the sizes (default 100000,1000000),
 * BENCH_IO_REPEATS the runs of each convert (default 1; medians are reported): the peak RSS of the
 * same run differs by up to 15% from one run to the next (2026-12-07: 326-385 MiB at 100k rows).
 *
 * Parquet also as DuckDB writes it by default (row groups of 122,880 rows; a 100k-row file is one
 * group, so at 100k rows it is the one-row-group file again), and once with Arrow output.
 *
 * The one-row-group Parquet comes from two writers, because a reader's memory follows the file's
 * pages, not its row groups: a page is the unit of compression, so it is decompressed whole.
 * DuckDB's writer cuts pages at about 100 MB of text (parquet_metadata lists 7 PLAIN pages for each
 * 680-720 MB column chunk of the 1M-row file),
 * parquet-wasm's (arrow-rs) at 1 MiB, as pyarrow's and Spark's writers do by default. Measured
 * (2026-12-07), DuckDB alone summing the text lengths of the 1M-row file with 1 thread peaks at
 * 403 MiB against 230 MiB for 100k rows with DuckDB's pages, 189 against 185 MiB with 1 MiB pages.
 * prefrank reads pages of 16 MiB or more a piece at a time itself (parquetPageText.ts, `--page-stream-size`
 * auto), ZSTD and uncompressed ones; one run shows DuckDB reading them whole (`--page-stream-size off`).
 */
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { duckdbArgs, lit, measure, writeInput } from './convert.bench.js';
import { median, type Bench, type Row } from './harness.js';
import { projectRoot } from '../src/runtime/paths.js';

/**
 * The JSON lines as Parquet in one row group with parquet-wasm's 1 MiB pages, batches streamed in
 * (parquet-wasm, not prefrank's writer: that is DuckDB's since 2026-12-07, with DuckDB's pages).
 */
async function writeSmallPages(jsonl: string, file: string, rows: number): Promise<void> {
  let chosen: string[] = [];
  let rejected: string[] = [];
  const lines = createInterface({ input: createReadStream(jsonl), crlfDelay: Infinity })[Symbol.asyncIterator]();
  const batches = new ReadableStream<pw.RecordBatch>({
    pull: async (controller) => {
      for (let r = await lines.next(); !r.done; r = await lines.next()) {
        const row = JSON.parse(r.value) as { chosen: string; rejected: string };
        chosen.push(row.chosen);
        rejected.push(row.rejected);
        if (chosen.length === 10_000) break;
      }
      if (!chosen.length) return controller.close();
      const table = pw.Table.fromIPCStream(tableToIPC(tableFromArrays({ chosen, rejected }), 'stream'));
      for (const b of table.recordBatches()) controller.enqueue(b);
      table.free();
      chosen = [];
      rejected = [];
    },
  });
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setMaxRowGroupSize(rows).build();
  const bytes = await pw.transformParquetStream(batches, props);
  await bytes.pipeTo(Writable.toWeb(createWriteStream(file)) as WritableStream<Uint8Array>);
}

const STOP_AFTER_S = [3, 8];

/**
 * Seconds from SIGINT to the process's exit, `after` seconds into a convert of `file`. The clock
 * starts at the plan's log line, not at spawn: before it, startup and the plan (a JSON lines file
 * is read through once to cut its parts) have no stop handler, and a SIGINT there ends the process
 * by the signal itself, with nothing written yet (by hand: at 0.3 and 0.8 s after spawn). A run
 * that ends by a signal is named as such: on 2026-12-07 one run 3 s in ended with no exit code,
 * and the bench did not say which signal; 35 runs by hand at 3 and 8 s all exited 130.
 */
async function stopLatency(cli: string, file: string, out: string, after: number): Promise<{ seconds: number; code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [cli, 'convert', file, '--out', out, '--log-level', 'info', '--progress-interval', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let log = '';
  await new Promise<void>((started) => {
    child.stderr.on('data', (d) => {
      log += d;
      if (/^convert: \d+ file/m.test(log)) started();
    });
    void closed.then(() => started());
  });
  await sleep(after * 1000);
  const t0 = process.hrtime.bigint();
  child.kill('SIGINT');
  const [code, signal] = await closed;
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, code, signal };
}

async function run(): Promise<Row[]> {
  const sizes = (process.env.BENCH_IO_ROWS ?? '100000,1000000').split(',').map(Number);
  const repeats = Number(process.env.BENCH_IO_REPEATS ?? 1);
  const root = projectRoot();
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const dir = await mkdtemp(join(tmpdir(), 'prefrank-bench-io-'));
  const out: Row[] = [];
  try {
    for (const rows of sizes) {
      const jsonl = join(dir, `pairs-${rows}.jsonl`);
      const parquet = join(dir, `pairs-${rows}.parquet`);
      process.stderr.write(`generating ${rows} pairs ...\n`);
      await writeInput(jsonl, rows);
      const duckGroups = join(dir, `pairs-${rows}-duckdb-groups.parquet`);
      for (const [file, groupRows] of [[parquet, `, ROW_GROUP_SIZE ${rows}`], [duckGroups, '']]) {
        const gen = await measure(duckdbArgs(`COPY (SELECT chosen, rejected FROM read_json(${lit(jsonl)}, format = 'newline_delimited', columns = {chosen: 'VARCHAR', rejected: 'VARCHAR'})) TO ${lit(file)} (FORMAT parquet, COMPRESSION zstd${groupRows})`), root);
        if (gen.code !== 0) throw new Error(`generating Parquet failed: ${gen.stderr}`);
      }
      const smallPages = join(dir, `pairs-${rows}-1mib-pages.parquet`);
      await writeSmallPages(jsonl, smallPages, rows);
      // The last run writes Arrow shards: one part, so one shard of all the rows.
      const inputs = [
        ['jsonl', jsonl, []],
        ['parquet, one row group, DuckDB pages', parquet, []],
        ['parquet, one row group, 1 MiB pages', smallPages, []],
        ["parquet, DuckDB's defaults", duckGroups, []],
        // DuckDB's large pages read whole by DuckDB, as before the page reader (parquetPageText.ts).
        ['parquet, one row group, DuckDB pages, --page-stream-size off', parquet, ['--page-stream-size', 'off']],
        ['parquet, one row group, 1 MiB pages, to Arrow', smallPages, ['--output-format', 'arrow']],
      ] as const;
      for (const [format, file, flags] of inputs) {
        const runs: { seconds: number; maxRssMiB: number }[] = [];
        for (let i = 0; i < repeats; i++) {
          const m = await measure([cli, 'convert', file, '--out', join(dir, `out-${rows}`), '--log-level', 'warn', ...flags], root);
          if (m.code !== 0) throw new Error(`convert ${format} exited ${m.code}: ${m.stderr.slice(-2000)}`);
          process.stderr.write(`convert ${format} ${rows} run ${i + 1}/${repeats}: ${m.seconds.toFixed(1)} s, ${m.maxRssMiB.toFixed(0)} MiB peak RSS\n`);
          runs.push(m);
          await rm(join(dir, `out-${rows}`), { recursive: true, force: true });
        }
        const seconds = median(runs.map((r) => r.seconds));
        out.push({ measure: 'peak RSS', input: format, rows, runs: repeats, seconds: Number(seconds.toFixed(2)), rows_per_s: Math.round(rows / seconds), peak_rss_mib: Math.round(median(runs.map((r) => r.maxRssMiB))), peak_rss_range: `${Math.round(Math.min(...runs.map((r) => r.maxRssMiB)))}-${Math.round(Math.max(...runs.map((r) => r.maxRssMiB)))}` });
      }
    }
    // Stopping: the largest input, SIGINT a few seconds in, three times each.
    const rows = Math.max(...sizes);
    for (const [format, file] of [['jsonl', join(dir, `pairs-${rows}.jsonl`)], ['parquet, one row group', join(dir, `pairs-${rows}.parquet`)]] as const) {
      for (const after of STOP_AFTER_S) {
        const runs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await stopLatency(cli, file, join(dir, `stop-${i}`), after);
          if (r.code !== 130) throw new Error(`stopped convert ${r.signal ? `was killed by ${r.signal}` : `exited ${r.code}`}, expected exit code 130`);
          runs.push(r.seconds);
          await rm(join(dir, `stop-${i}`), { recursive: true, force: true });
        }
        process.stderr.write(`SIGINT ${after} s into ${format}: exit after ${runs.map((x) => x.toFixed(2)).join(', ')} s\n`);
        out.push({ measure: `stop, SIGINT at ${after} s`, input: format, rows, seconds: Number(median(runs).toFixed(2)) });
      }
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const benches: Bench[] = [
  {
    name: 'io',
    description: 'convert peak RSS at 100k and 1M rows (JSON lines; Parquet in one row group) and the time from SIGINT to exit',
    run,
  },
];
