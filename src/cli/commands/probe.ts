/**
 * `prefrank probe train` and `prefrank probe eval`: the representation reward's own commands
 * (DESIGN.md, Method 2-3). Both read inputs through the shared front stages (read, adapt, validate)
 * and embed on the fly with the model flags shared with rerank (src/cli/embedOptions.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { CommandModule } from 'yargs';
import { checkProbeCompatibility, featureSourceOf, loadProbe, prefrankVersion, saveProbe, type FeatureSource } from '../../probe/artifact.js';
import { tradeoffCurve } from '../../probe/posterior.js';
import { Prng } from '../../probe/Prng.js';
import { autoOrNumber, relabelRule, withRewardOptions, type RewardArgs } from '../rewardOptions.js';
import type { FeatureSet } from '../../probe/featureData.js';
import { readFeatures } from '../../../pipelines/probeFeatures.js';
import { featureShardFiles, readFeatureShards } from '../../probe/featureShards.js';
import { accuracyByGroup, auroc, pairLogLikelihood, pairReliability, pairwiseAccuracy } from '../../probe/metrics.js';
import { resolveTrainOptions, trainProbe } from '../../probe/trainProbe.js';
import { Embedder } from '../../runtime/model/Embedder.js';
import { asUsageError, UsageError, UserError } from '../../runtime/errors.js';
import { Logger, type LogLevel } from '../../runtime/Logger.js';
import { Stats } from '../../runtime/Stats.js';
import { DEFAULT_MODEL_NAME } from '../../runtime/model/defaultModel.js';
import { DEFAULT_MODEL, embedderOptions, withEmbedOptions, type EmbedArgs } from '../embedOptions.js';
import { inputConfig, withInputOptions, type InputArgs as BaseInputArgs } from '../ioOptions.js';

type InputArgs = BaseInputArgs & {
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
};

/** Reads and embeds the inputs; the embedder stays open only as long as needed. */
async function loadFeatures(
  args: InputArgs & EmbedArgs,
  log: Logger,
  check: (embedder: Embedder, modelName: string) => void = () => {},
): Promise<{ features: FeatureSet; embedder: Embedder; modelName: string; files: readonly string[] }> {
  // Checked before the model opens: a typo should not cost a model load.
  const input = inputConfig(args, 512);
  const opts = embedderOptions(args, (m) => log.info(m));
  const modelName = args.model === DEFAULT_MODEL ? DEFAULT_MODEL_NAME : basename(args.model.replace(/\/model\.onnx$/, ''));
  // The model opens first so that a mismatch is reported before any data is read.
  const embedder = await Embedder.open(opts);
  try {
    check(embedder, modelName);
  } catch (err) {
    await embedder.close();
    throw err;
  }
  const t0 = Date.now();
  const read = await readFeatures(args.inputs, { ...input, window: 2, partRows: 1_000_000, stats: new Stats() }, embedder);
  const rejected = Object.values(read.rejects).reduce((x, y) => x + y, 0);
  log.info(`read and embedded ${read.pairs.length} pairs and ${read.labels.length} labelled responses from ${read.files.length} file(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`, {
    skipped: read.skipped,
    truncated: read.truncated,
    ...(rejected ? { rejected, reasons: read.rejects } : {}),
  });
  const { rejects: _r, files, ...features } = read;
  return { features, embedder, modelName, files };
}

/** trainProbe's option checks name the option; the flag is its kebab-case form. */
const trainFlag = (message: string) => message.replace(/^trainProbe: (\w+)/, (_, k: string) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);


type TrainArgs = InputArgs &
  EmbedArgs & {
    out: string;
    margin: number;
    lr: number;
    weightDecay: number;
    epochs: number;
    patience: number;
    batchSize: number;
    seed: number;
    holdout: number;
    standardize: boolean;
    labelWeight: number;
    alpha: string;
  };

const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train <inputs..>',
  describe: 'Train a hybrid reward probe on preference pairs and/or per-response safety labels',
  builder: (y) =>
    withEmbedOptions(withInputOptions(y))
      .option('out', { type: 'string', demandOption: true, describe: 'Probe folder to write (model.safetensors + probe.json)' })
      .option('margin', { type: 'number', default: 1, describe: 'Margin m of the pair loss -log sigmoid(r_c - r_r - m)', group: 'Training:' })
      .option('lr', { type: 'number', default: 1e-3, describe: 'Adam learning rate', group: 'Training:' })
      .option('weight-decay', { type: 'number', default: 0.01, describe: 'Decoupled weight decay (AdamW)', group: 'Training:' })
      .option('epochs', { type: 'number', default: 100, describe: 'Most passes over the training split', group: 'Training:' })
      .option('patience', { type: 'number', default: 10, describe: 'Stop after this many epochs without a better held-out accuracy', group: 'Training:' })
      .option('batch-size', { type: 'number', default: 64, describe: 'Examples per Adam step', group: 'Training:' })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the held-out split, the initialisation and the shuffling', group: 'Training:' })
      .option('holdout', { type: 'number', default: 0.2, describe: 'Fraction held out for early stopping and alpha', group: 'Training:' })
      .option('standardize', { type: 'boolean', default: true, describe: 'Standardise features with the training mean/std (stored in the probe); --no-standardize to turn off', group: 'Training:' })
      .option('label-weight', { type: 'number', default: 1, describe: 'Weight of the per-response label loss relative to the pair loss', group: 'Training:' })
      .option('alpha', { type: 'string', default: 'auto', describe: "Confidence temperature stored in the probe: auto (maximum likelihood on the held-out pairs) or a number", group: 'Training:' }) as never,
  handler: async (args) => {
    const log = new Logger(args.logLevel, args.logFormat);
    const alpha = autoOrNumber('alpha', args.alpha);
    const trainOptions = {
      margin: args.margin,
      lr: args.lr,
      weightDecay: args.weightDecay,
      epochs: args.epochs,
      patience: args.patience,
      batchSize: args.batchSize,
      seed: args.seed,
      holdout: args.holdout,
      standardize: args.standardize,
      labelWeight: args.labelWeight,
      alpha,
    };
    // Flags are checked before the model opens: a typo should not cost an embedding pass.
    asUsageError(() => resolveTrainOptions({ ...trainOptions, layers: 1, width: 1 }), trainFlag);
    // Feature shards from `prefrank embed` train without a model; other inputs are embedded here.
    const shardFiles = await featureShardFiles(args.inputs);
    let features: FeatureSet;
    let source: FeatureSource;
    let files: readonly string[];
    let close = async () => {};
    if (shardFiles) {
      const shards = await readFeatureShards(shardFiles);
      ({ features, source } = shards);
      files = shardFiles;
      log.info(`read ${features.pairs.length} pairs from ${files.length} feature shard(s)`, shards.candidates ? { unusedCandidates: shards.candidates } : {});
    } else {
      const loaded = await loadFeatures(args, log);
      ({ features, files } = loaded);
      source = featureSourceOf(loaded.embedder, loaded.modelName);
      close = () => loaded.embedder.close();
    }
    try {
      if (features.pairs.length === 0 && features.labels.length === 0) throw new UserError('probe train: the inputs gave no pairs and no labelled responses to train on');
      const result = trainProbe(features.pairs, features.labels, {
        ...trainOptions,
        layers: source.layers.length,
        width: source.width,
        onEpoch: (e) => log.debug(`epoch ${e.epoch}`, { trainLoss: e.trainLoss, heldOutAccuracy: e.heldOutAccuracy }),
      });
      // Per original input file (for feature shards, the files that were embedded).
      const perFile = new Map<string, { pairs: number; labels: number }>(shardFiles ? [] : files.map((f) => [basename(f), { pairs: 0, labels: 0 }]));
      const count = (file: string) => perFile.get(basename(file)) ?? perFile.set(basename(file), { pairs: 0, labels: 0 }).get(basename(file))!;
      for (const p of features.pairs) count(p.sourceFile).pairs++;
      for (const l of features.labels) count(l.sourceFile).labels++;
      const meta = saveProbe(args.out, result.probe, {
        prefrank: prefrankVersion(),
        features: source,
        alpha: result.alpha,
        alphaSource: result.alphaSource,
        calibration: result.calibration,
        training: {
          inputs: [...perFile.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, c]) => ({ file, ...c })),
          pairs: features.pairs.length,
          labels: features.labels.length,
          options: { ...result.options },
        },
        metrics: result.metrics,
      });
      const m = meta.metrics;
      const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(4));
      process.stdout.write(
        table([
          ['probe', args.out],
          ['kind', `${meta.kind} (${meta.features.layers.length} layer(s) x ${meta.features.width})`],
          ['pairs train / held out', `${m.trainPairs} / ${m.heldOutPairs}`],
          ['labels train / held out', `${m.trainLabels} / ${m.heldOutLabels}`],
          ['train accuracy', fmt(m.trainAccuracy)],
          ['held-out accuracy', fmt(m.heldOutAccuracy)],
          ['held-out AUROC (labels)', fmt(m.heldOutAuroc)],
          ['alpha', `${meta.alpha.toFixed(4)} (${meta.alphaSource})`],
          ['label prior (estimated)', meta.calibration ? `${meta.calibration.labelPrior.toFixed(3)} (probe accuracy vs truth ~${meta.calibration.probeAccuracy.toFixed(3)})` : '-'],
          ['unsafe slope', meta.calibration ? `${meta.calibration.unsafeSlope} (${meta.calibration.slopeSource}, ${meta.calibration.cleanPairs} clean pairs)` : '-'],
          ['held-out ECE', fmt(m.heldOutEce)],
          ['best epoch / run', `${m.bestEpoch} / ${m.epochsRun}`],
        ]) + '\n',
      );
    } finally {
      await close();
    }
  },
};

type EvalArgs = InputArgs & EmbedArgs & RewardArgs & { probe: string; json?: string; force: boolean; bins: number; noise: number; seed: number };

/** Budgets of the trade-off curve, the paper's rule (label prior 0.5, budget 0.5) first. */
const CURVE_BUDGETS = [0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01];

const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval <inputs..>',
  describe: 'Evaluate a probe: pairwise accuracy, AUROC on safety labels, calibration, breakdown by source/category',
  builder: (y) =>
    withRewardOptions(withEmbedOptions(withInputOptions(y)))
      .option('probe', { type: 'string', demandOption: true, describe: 'Probe folder (model.safetensors + probe.json)' })
      .option('json', { type: 'string', describe: 'Also write the full results as JSON to this file' })
      .option('force', { type: 'boolean', default: false, describe: "Use a probe whose model or tokenizer hash differs from the model's (shapes must still match)" })
      .option('noise', { type: 'number', default: 0.25, describe: 'Trade-off curve: share of pairs presented in the wrong order, in [0, 1)' })
      .option('seed', { type: 'number', default: 0, describe: 'Trade-off curve: seed of the injected noise' })
      .option('bins', { type: 'number', default: 10, describe: 'Reliability table bins over [0.5, 1]' }) as never,
  handler: async (args) => {
    const log = new Logger(args.logLevel, args.logFormat);
    if (!(Number.isInteger(args.bins) && args.bins >= 1)) throw new UsageError(`--bins must be a positive integer, got ${args.bins}`);
    if (!(args.noise >= 0 && args.noise < 1)) throw new UsageError(`--noise must be in [0, 1), got ${args.noise}`);
    if (!Number.isInteger(args.seed)) throw new UsageError(`--seed must be an integer, got ${args.seed}`);
    const loaded = loadProbe(args.probe);
    const rule = relabelRule(args, loaded);
    const { alpha } = rule;
    const { features, embedder } = await loadFeatures(args, log, (e, modelName) => {
      const diffs = checkProbeCompatibility(loaded.meta, featureSourceOf(e, modelName), { force: args.force, probeDir: args.probe });
      for (const d of diffs) log.warn(`--force: probe does not match the model: ${d}`);
    });
    await embedder.close();
    const { probe } = loaded;
    const rc = Float32Array.from(features.pairs, (p) => probe.score(p.chosen));
    const rr = Float32Array.from(features.pairs, (p) => probe.score(p.rejected));
    const rel = pairReliability(rc, rr, alpha, args.bins);
    const labelScores = features.labels.map((l) => probe.score(l.features));
    // The relabel trade-off with injected noise: the paper's rule, then the posterior at each budget.
    const noisy = new Set(new Prng(args.seed).permutation(rc.length).slice(0, Math.round(args.noise * rc.length)));
    const flipped = Array.from(rc, (_, i) => noisy.has(i));
    // The paper's row is the paper's form (plain alpha * d, prior 0.5); then the posterior per budget.
    const curve = [
      ...tradeoffCurve({ rc, rr }, { alpha, unsafeSlope: 0 }, [{ labelPrior: 0.5, maxWrongFlips: 0.5 }], flipped),
      ...tradeoffCurve({ rc, rr }, rule, CURVE_BUDGETS.map((b) => ({ labelPrior: rule.labelPrior, maxWrongFlips: b })), flipped),
    ];
    const result = {
      probe: args.probe,
      probeSha256: loaded.sha256,
      alpha,
      pairs: features.pairs.length,
      labels: features.labels.length,
      accuracy: features.pairs.length ? pairwiseAccuracy(rc, rr) : null,
      logLikelihood: features.pairs.length ? pairLogLikelihood(rc, rr, alpha) : null,
      ece: features.pairs.length ? rel.ece : null,
      auroc: features.labels.length ? auroc(labelScores, features.labels.map((l) => l.safe)) : null,
      labelPrior: rule.labelPrior,
      reliability: rel.bins,
      tradeoff: { noise: args.noise, seed: args.seed, rows: curve },
      bySource: accuracyByGroup(features.pairs.map((p) => basename(p.sourceFile)), rc, rr),
      byCategory: accuracyByGroup(features.pairs.map((p) => p.category ?? '(none)'), rc, rr),
    };
    const f = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(4));
    const out: string[] = [];
    out.push(table([
      ['probe', `${args.probe} (${loaded.meta.kind}, alpha ${alpha.toFixed(4)})`],
      ['pairs', String(result.pairs)],
      ['pairwise accuracy', f(result.accuracy)],
      ['mean log-likelihood', f(result.logLikelihood)],
      ['ECE (confidence)', f(result.ece)],
      ['labelled responses', String(result.labels)],
      ['AUROC (safety labels)', result.labels ? f(result.auroc) : '- (no per-response labels)'],
    ]));
    if (result.pairs) {
      out.push('\nReliability of the confidence max(c, 1 - c) vs agreement with the human label');
      out.push(table([['confidence bin', 'pairs', 'mean confidence', 'agreement'], ...rel.bins.map((b) => [`[${b.lo.toFixed(2)}, ${b.hi.toFixed(2)})`, String(b.n), f(b.confidence), f(b.accuracy)])], true));
      out.push(`\nRelabel trade-off: ${(100 * args.noise).toFixed(0)}% of the pairs presented in the wrong order (seed ${args.seed}); first row: the paper's rule (label prior 0.5, swap when c < 0.5)`);
      out.push(
        table(
          [
            ['label prior', 'max wrong flips', 'flips undone', 'correct broken', 'agreement before', 'after', 'expected wrong swaps'],
            ...curve.map((r) => [r.labelPrior.toFixed(3), r.maxWrongFlips.toFixed(2), `${r.undone} / ${r.flippedIn}`, `${r.broken} / ${r.pairs - r.flippedIn}`, f(r.agreeBefore), f(r.agreeAfter), r.expectedWrongFlips.toFixed(1)]),
          ],
          true,
        ),
      );
      out.push('\nBy source');
      out.push(table([['source', 'pairs', 'accuracy'], ...result.bySource.map((g) => [g.group, String(g.n), f(g.accuracy)])], true));
      if (result.byCategory.length > 1 || result.byCategory[0]?.group !== '(none)') {
        out.push('\nBy category');
        out.push(table([['category', 'pairs', 'accuracy'], ...result.byCategory.map((g) => [g.group, String(g.n), f(g.accuracy)])], true));
      }
    }
    process.stdout.write(out.join('\n') + '\n');
    if (args.json) {
      mkdirSync(dirname(args.json), { recursive: true });
      writeFileSync(args.json, JSON.stringify(result, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2) + '\n');
      log.info(`wrote ${args.json}`);
    }
  },
};

function table(rows: string[][], header = false): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  const lines = rows.map(line);
  if (header) lines.splice(1, 0, line(w.map((n) => '-'.repeat(n))));
  return lines.join('\n');
}

export const probeCommand: CommandModule<object, object> = {
  command: 'probe <command>',
  describe: 'Train or evaluate the representation reward probe',
  builder: (y) => y.command(trainCommand as CommandModule<object, TrainArgs>).command(evalCommand as CommandModule<object, EvalArgs>).demandCommand(1, 'Name a probe command: train or eval.'),
  handler: () => {},
};
