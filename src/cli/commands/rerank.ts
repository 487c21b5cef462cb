/**
 * `prefrank rerank`: the main job (DESIGN.md, Shape): embed, score with the probe, compute the
 * label confidence, relabel within the damage budget, write shards; then one summary.
 */
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { parsePairsSpec } from '../../../operators/pairsFromLists.js';
import { rerank } from '../../../pipelines/rerank.js';
import { rerankSummary, type SummaryContext } from '../../analysis/rerankSummary.js';
import { runJob } from '../../exec/runJob.js';
import { checkProbeCompatibility, featureSourceOf, loadProbe } from '../../probe/artifact.js';
import { checkMinMargin, RELABEL_DEFAULTS, RELABEL_POLICIES, type RelabelPolicy } from '../../probe/posterior.js';
import { ioSettings } from '../../runtime/Config.js';
import { asUsageError, UsageError } from '../../runtime/errors.js';
import { Logger, type LogLevel } from '../../runtime/Logger.js';
import { Embedder } from '../../runtime/model/Embedder.js';
import { dataPath } from '../../runtime/paths.js';
import { Stats } from '../../runtime/Stats.js';
import { embedderOptions, modelSettings, withEmbedOptions, type EmbedArgs } from '../embedOptions.js';
import { ioConfig, withIoOptions, type IoArgs } from '../ioOptions.js';
import { relabelRule, withRewardOptions, type RewardArgs } from '../rewardOptions.js';

type Args = IoArgs &
  EmbedArgs &
  RewardArgs & {
    logLevel: LogLevel;
    logFormat: 'text' | 'json';
    probe: string;
    policy: RelabelPolicy;
    minMargin: number;
    pairs: string;
    force: boolean;
  };

export const rerankCommand: CommandModule<object, Args> = {
  command: 'rerank <inputs..>',
  describe: 'Re-rank preference pairs: embed, score with the probe, compute label confidence, relabel, write shards',
  builder: (y) =>
    withRewardOptions(withEmbedOptions(withIoOptions(y)))
      .option('probe', { type: 'string', default: 'default', describe: 'Probe folder (model.safetensors + probe.json); "default": data/probe, trained for the default model', group: 'Reward:' })
      .option('policy', { choices: RELABEL_POLICIES, default: 'swap' as RelabelPolicy, describe: 'swap pairs whose label is likely wrong (within --max-wrong-flips), only annotate, or filter low-confidence pairs to rejects', group: 'Reward:' })
      .option('min-margin', { type: 'number', default: RELABEL_DEFAULTS.minMargin, describe: 'filter: reject pairs with |confidence - 0.5| below this, in [0, 0.5)', group: 'Reward:' })
      .option('pairs', { type: 'string', default: 'best-worst', describe: 'Listwise input: best-worst, top-bottom:K or all', group: 'Reward:' })
      .option('force', { type: 'boolean', default: false, describe: 'Use a probe trained for another model or template (shapes must still match)', group: 'Reward:' })
      .example('$0 rerank data/sample --out out/sample', 'Re-rank the embedded sample with the default model and probe')
      .example('$0 rerank "shards/*.parquet" --out out --model my-policy/ --probe my-probe/ --policy filter', 'Your own model and probe') as never,
  handler: async (args) => {
    const log = new Logger(args.logLevel, args.logFormat);
    const io = ioConfig(args);
    asUsageError(() => checkMinMargin(args.minMargin, '--min-margin'));
    let pairs;
    try {
      pairs = parsePairsSpec(args.pairs);
    } catch (err) {
      throw new UsageError(`--pairs: ${(err as Error).message}`);
    }
    const probeDir = args.probe === 'default' ? dataPath('probe') : resolve(args.probe);
    const loaded = loadProbe(probeDir);
    const { probe, meta, sha256: probeSha256 } = loaded;
    const rule = relabelRule(args, loaded);

    const stats = new Stats();
    const embedOptions = embedderOptions(args, (m) => log.info(m));
    const settings = {
      command: 'rerank',
      ...ioSettings(io),
      ...(await modelSettings(args, embedOptions)),
      probeSha256,
      ...rule,
      policy: args.policy,
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
          rerank(parts, { io, rule, policy: args.policy, minMargin: args.minMargin, pairs }, { embedder: embedder!, probe, stats, configHash }),
      });
      if (out.complete && !out.interrupted) await printSummary(io.outDir, out.seconds, out.rowsThisRun, log, { rule, policy: args.policy, probeAccuracy: meta.calibration?.probeAccuracy ?? null });
    } finally {
      await (embedder as Embedder | null)?.close();
    }
  },
};

/**
 * The run's summary (src/analysis/rerankSummary.ts): on stderr for people, one JSON line on stdout
 * for scripts.
 */
async function printSummary(outDir: string, seconds: number, rowsThisRun: number, log: Logger, ctx: SummaryContext): Promise<void> {
  const found = await rerankSummary(outDir, seconds, rowsThisRun, ctx);
  if (!found) return;
  const { summary, agreement, expected } = found;
  const { pairs, flipped } = summary;
  const r4 = (x: number) => Number(x.toFixed(4));
  log.info(
    `rerank: ${pairs} pairs written, ${flipped} flipped (${summary.flippedPct}%), confidence p05/p50/p95 ${summary.confidenceQuantiles.p05}/${summary.confidenceQuantiles.p50}/${summary.confidenceQuantiles.p95}, ${summary.rowsPerSecond} rows/s this run`,
  );
  if (expected)
    log.info(
      `rerank: expected ${summary.expectedWrongFlips} wrong swaps; expected labels wrong ${summary.expectedWrongBefore} before -> ${summary.expectedWrongAfter} after (label prior ${ctx.rule.labelPrior}, alpha ${r4(ctx.rule.alpha)})`,
    );
  if (ctx.policy === 'swap' && flipped === 0 && summary.heldBack > 0)
    log.warn(
      `rerank: swapped nothing: ${summary.heldBack} pairs lean against their label (confidence < 0.5), but the probe cannot support any swap within --max-wrong-flips ${ctx.rule.maxWrongFlips}; they keep their order and their confidence says how doubtful they are`,
    );
  // Only a hint: the agreement is inflated on pairs the probe was trained on (the embedded sample
  // is drawn from its training data), and the probe's accuracy differs between datasets.
  if (summary.impliedLabelPrior !== null && Math.abs(summary.impliedLabelPrior - ctx.rule.labelPrior) > 0.1)
    log.info(
      `rerank: the reward agrees with ${(100 * (agreement ?? 0)).toFixed(1)}% of the input labels; unless the probe was trained on these pairs, that suggests a label reliability of about ${summary.impliedLabelPrior} (label prior used: ${ctx.rule.labelPrior}; --label-prior sets it)`,
    );
  process.stdout.write(JSON.stringify(summary) + '\n');
}
