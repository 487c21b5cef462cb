import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { rerank } from '../../../pipelines/rerank.js';
import { parsePairsSpec } from '../../../operators/pairsFromLists.js';
import { checkProbeCompatibility, featureSourceOf, loadProbe, resolveAlpha } from '../../probe/artifact.js';
import { ioSettings } from '../../runtime/Config.js';
import { DuckDb } from '../../runtime/DuckDb.js';
import { sha256File } from '../../runtime/hash.js';
import type { Manifest } from '../../../schemas/manifest.js';
import { Embedder } from '../../runtime/Embedder.js';
import { UsageError } from '../../runtime/errors.js';
import { Logger, type LogLevel } from '../../runtime/Logger.js';
import { dataPath } from '../../runtime/paths.js';
import { Stats } from '../../runtime/Stats.js';
import { embedderOptions, withEmbedOptions, type EmbedArgs } from '../embedOptions.js';
import { ioConfig, withIoOptions, type IoArgs } from '../ioOptions.js';
import { runJob } from '../runJob.js';

type Args = IoArgs &
  EmbedArgs & {
    logLevel: LogLevel;
    logFormat: 'text' | 'json';
    probe: string;
    alpha: string;
    policy: 'swap' | 'annotate' | 'filter';
    threshold: number;
    minMargin: number;
    pairs: string;
    force: boolean;
  };

export const rerankCommand: CommandModule<object, Args> = {
  command: 'rerank <inputs..>',
  describe: 'Re-rank preference pairs: embed, score with the probe, compute label confidence, relabel, write shards',
  builder: (y) =>
    withEmbedOptions(withIoOptions(y))
      .option('probe', { type: 'string', default: 'default', describe: 'Probe folder (model.safetensors + probe.json); "default": data/probe, trained for the default model', group: 'Reward:' })
      .option('alpha', { type: 'string', default: 'auto', describe: 'Confidence temperature: a number, or auto (fitted when the probe was trained)', group: 'Reward:' })
      .option('policy', { choices: ['swap', 'annotate', 'filter'] as const, default: 'swap' as const, describe: 'swap pairs under the threshold, only annotate, or filter low-confidence pairs to rejects', group: 'Reward:' })
      .option('threshold', { type: 'number', default: 0.5, describe: 'swap: re-order a pair when its confidence is below this', group: 'Reward:' })
      .option('min-margin', { type: 'number', default: 0.1, describe: 'filter: reject pairs with |confidence - 0.5| below this', group: 'Reward:' })
      .option('pairs', { type: 'string', default: 'best-worst', describe: 'Listwise input: best-worst, top-bottom:K or all', group: 'Reward:' })
      .option('force', { type: 'boolean', default: false, describe: 'Use a probe trained for another model or template (shapes must still match)', group: 'Reward:' })
      .example('$0 rerank data/sample --out out/sample', 'Re-rank the embedded sample with the default model and probe')
      .example('$0 rerank "shards/*.parquet" --out out --model my-policy/ --probe my-probe/ --policy filter', 'Your own model and probe') as never,
  handler: async (args) => {
    const log = new Logger(args.logLevel, args.logFormat);
    const io = ioConfig(args);
    if (!(args.threshold > 0 && args.threshold < 1)) throw new UsageError(`--threshold must be in (0, 1), got ${args.threshold}`);
    if (!(args.minMargin >= 0 && args.minMargin < 0.5)) throw new UsageError(`--min-margin must be in [0, 0.5), got ${args.minMargin}`);
    let pairs;
    try {
      pairs = parsePairsSpec(args.pairs);
    } catch (err) {
      throw new UsageError(`--pairs: ${(err as Error).message}`);
    }
    const alphaArg = args.alpha === 'auto' ? 'auto' : Number(args.alpha);
    if (alphaArg !== 'auto' && !(Number.isFinite(alphaArg) && alphaArg >= 0)) throw new UsageError(`--alpha must be 'auto' or a number >= 0, got ${args.alpha}`);
    const probeDir = args.probe === 'default' ? dataPath('probe') : resolve(args.probe);
    const { probe, meta, sha256: probeSha256 } = loadProbe(probeDir);
    const alpha = resolveAlpha(alphaArg, meta);

    const stats = new Stats();
    const embedOptions = embedderOptions(args, (m) => log.info(m));
    // The settings hash the model and tokenizer files without opening a session: with --workers
    // this process only waits for its workers, and an onnxruntime session costs seconds and memory.
    const [modelSha256, tokenizerSha256] = await Promise.all([
      sha256File(embedOptions.model),
      sha256File(embedOptions.tokenizer ?? join(dirname(embedOptions.model), 'tokenizer.json')),
    ]);
    const settings = {
      command: 'rerank',
      ...ioSettings(io),
      modelSha256,
      tokenizerSha256,
      probeSha256,
      layers: args.layers,
      template: args.chatTemplate ? 'chat-template' : embedOptions.template,
      maxTokens: args.maxTokens ?? null,
      batchTokens: args.batchTokens,
      device: args.device,
      alpha,
      policy: args.policy,
      threshold: args.threshold,
      minMargin: args.minMargin,
      pairs: args.pairs,
    };
    let embedder: Embedder | null = null;
    try {
      const out = await runJob({
        command: 'rerank',
        io,
        settings,
        log,
        stats,
        threadsFlag: 'threads',
        threads: args.threads,
        // Opened only by the process that embeds, once it knows there is work left.
        before: async () => {
          embedder = await Embedder.open(embedOptions);
          const diffs = checkProbeCompatibility(meta, featureSourceOf(embedder, args.model), { force: args.force, probeDir: args.probe });
          for (const d of diffs) log.warn(`--force: probe mismatch: ${d}`);
        },
        pipeline: (parts, configHash) =>
          rerank(parts, { io, alpha, policy: args.policy, threshold: args.threshold, minMargin: args.minMargin, pairs }, { embedder: embedder!, probe, stats, configHash }),
      });
      if (out.complete && !out.interrupted) await printSummary(io.outDir, out.seconds, out.rowsThisRun, log);
    } finally {
      await (embedder as Embedder | null)?.close();
    }
  },
};

/** The run's summary: on stderr for people, one JSON line on stdout for scripts. */
async function printSummary(outDir: string, seconds: number, rowsThisRun: number, log: Logger): Promise<void> {
  // Every part that completed has a data shard (possibly empty); when all parts failed there is none.
  if (!(await readdir(resolve(outDir, 'data')).catch(() => [] as string[])).some((f) => f.endsWith('.parquet'))) return;
  await using db = await DuckDb.open();
  const glob = resolve(outDir, 'data', '*.parquet').replace(/'/g, "''");
  const [row] = await db.all(
    `SELECT count(*)::BIGINT AS pairs, sum(flipped::INT)::BIGINT AS flipped,
            quantile_cont(confidence, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q
     FROM read_parquet('${glob}', union_by_name = true)`,
  );
  const pairs = Number(row.pairs);
  const flipped = Number(row.flipped ?? 0);
  const q = ((row.q as number[] | null) ?? []).map((x) => Number(Number(x).toFixed(4)));
  // From the manifest, not this process's counters: with --workers the work was done elsewhere.
  const manifest = JSON.parse(await readFile(resolve(outDir, 'manifest.json'), 'utf8')) as Manifest;
  const summary = {
    out: outDir,
    pairs,
    flipped,
    flippedPct: pairs ? Number(((100 * flipped) / pairs).toFixed(2)) : 0,
    confidenceQuantiles: { p05: q[0] ?? null, p25: q[1] ?? null, p50: q[2] ?? null, p75: q[3] ?? null, p95: q[4] ?? null },
    rejected: manifest.totals.rowsRejected,
    seconds: Number(seconds.toFixed(2)),
    /** Input rows processed by this run (not those of shards already complete) per second. */
    rowsPerSecond: Number((rowsThisRun / Math.max(seconds, 1e-9)).toFixed(1)),
  };
  log.info(
    `rerank: ${pairs} pairs written, ${flipped} flipped (${summary.flippedPct}%), confidence p05/p50/p95 ${summary.confidenceQuantiles.p05}/${summary.confidenceQuantiles.p50}/${summary.confidenceQuantiles.p95}, ${summary.rowsPerSecond} rows/s this run`,
  );
  process.stdout.write(JSON.stringify(summary) + '\n');
}
