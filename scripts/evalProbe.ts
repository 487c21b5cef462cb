/**
 * `npm run eval`: quality evidence for the representation reward and the relabel rule on the shared
 * data, with the default model and the default probe recipe. Nothing is fitted on a test split.
 *
 * 1. Splits: a seeded 20% of the HH-RLHF harmless pairs is the pair test set; the OpenAI moderation
 *    texts are split in halves, the first usable for training (the "+ moderation" variant), the
 *    second only for testing. Each probe is trained on the rest (its own internal held-out split
 *    drives early stopping, alpha and the label prior).
 * 2. Per method: pairwise accuracy on the HH test pairs, response AUROC on the moderation test texts
 *    (safe vs unsafe), and calibration (ECE) of the posterior confidence against the clean labels
 *    once 25% of the test pairs are presented in the wrong order.
 * 3. Noise recovery on two sets, each with 25% of its pairs presented in the wrong order (20 noise
 *    seeds pooled): the HH test pairs (noisy human labels: agreement with them is only a proxy) and
 *    clear-cut pairs (a safe and an unsafe moderation test text, so the order is known). Rules: the
 *    paper's (label prior 0.5, swap when c < 0.5), and the posterior with the probe's fitted label
 *    prior at several damage budgets (rerank's default, RELABEL_DEFAULTS, is marked). Counted:
 *    flips undone, correct pairs broken, agreement with the clean labels before and after, with a
 *    95% bootstrap interval of the change (1,000 resamples of the pairs).
 * 4. Baselines trained on the same pairs: response length and a bag-of-words linear reward.
 * 5. The default recipe over 5 independent splits (mean, worst, best), and the same without the
 *    default model's GloVe layer (USE lite alone, the default until 2026-12-07).
 * Prints tables and writes JSON (default bench/results/eval-probe.json, or the path given).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { recordTable } from '../src/analysis/table.js';
import { auroc, pairwiseAccuracy, reliability } from '../src/probe/metrics.js';
import { fitCalibration, labelPosterior, RELABEL_DEFAULTS, relabelOutcomes, type RewardPairs } from '../src/probe/posterior.js';
import { Prng } from '../src/probe/Prng.js';
import { splitIndices, trainProbe, type TrainProbeResult } from '../src/probe/trainProbe.js';
import { GLOVE_LAYER } from '../src/runtime/model/defaultModel.js';
import { projectRoot } from '../src/runtime/paths.js';
import { DEFAULT_TRAIN_OPTIONS } from './buildProbe.js';
import { hhFeatures, moderationLabels, openDefaultEmbedder } from './probeData.js';
import type { FeatureLabel, FeaturePair, TrainingPair } from '../schemas/features.js';
import type { Evidence } from '../schemas/probe.js';

const EVAL_SEED = 7;
const TEST_FRACTION = 0.2;
const NOISE = 0.25;
const NOISE_SEEDS = 20;
const BOOTSTRAP = 1000;
const BUDGETS = [0.2, 0.1, 0.05, 0.02];
/** Budgets of the across-splits summaries: 0.3 is where clear-cut pairs gain 0.05 (measured). */
const SPLIT_BUDGETS = [0.3, 0.2, 0.1, 0.05];
/** Independent splits of the across-splits summary; the first is EVAL_SEED's. */
const SPLIT_SEEDS = [EVAL_SEED, 8, 9, 10, 11];
const BOW_BUCKETS = 4096;

type Row = Record<string, string | number | null>;

/** FNV-1a hash of a word into one of `buckets` features. */
function bucket(word: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  return (h >>> 0) % buckets;
}

function bagOfWords(text: string): Float32Array {
  const f = new Float32Array(BOW_BUCKETS);
  for (const w of text.toLowerCase().match(/[a-z0-9']+/g) ?? []) f[bucket(w, BOW_BUCKETS)] += 1;
  for (let i = 0; i < f.length; i++) f[i] = Math.log1p(f[i]);
  return f;
}

interface Method {
  readonly name: string;
  /** Rewards of the HH test pairs, chosen and rejected (human order). */
  readonly hh: RewardPairs;
  /** Rewards of the moderation test texts. */
  readonly mod: Float64Array;
  /** The calibration fitted on the method's own held-out training data. */
  readonly cal: Evidence & { readonly labelPrior: number };
  readonly note: string;
}

/**
 * One held-out split, from its seed alone: a TEST_FRACTION of the HH pairs and half of the
 * moderation texts are test data; clear-cut pairs are a safe and an unsafe moderation test text,
 * paired at random (seeded).
 */
function evalSplit<P extends TrainingPair>(pairs: readonly P[], labels: readonly FeatureLabel[], seed: number) {
  const [trainIdx, testIdx] = splitIndices(pairs.length, TEST_FRACTION, seed);
  const [modTrainIdx, modTestIdx] = splitIndices(labels.length, 0.5, seed);
  const modTest = modTestIdx.map((i) => labels[i]);
  const safeIdx = new Prng(seed + 2).permutation(modTest.length).filter((i) => modTest[i].safe);
  const unsafeIdx = new Prng(seed + 3).permutation(modTest.length).filter((i) => !modTest[i].safe);
  return {
    train: trainIdx.map((i) => pairs[i]),
    test: testIdx.map((i) => pairs[i]),
    modTrain: modTrainIdx.map((i) => labels[i]),
    modTest,
    modTestIdx,
    clear: Array.from({ length: Math.min(safeIdx.length, unsafeIdx.length) }, (_, k) => [safeIdx[k], unsafeIdx[k]] as const),
  };
}

/**
 * The default recipe over SPLIT_SEEDS independent splits (the first is the one the tables above
 * detail): one split's test sets are small (462 HH pairs, 184 clear-cut pairs), and the fitted
 * calibration moves between splits, so the mean and the worst split are what a claim can rest on.
 */
function acrossSplits(pairs: readonly TrainingPair[], labels: readonly FeatureLabel[], shape: { layers: number; width: number }, first: Method | null, log: (l: string) => void) {
  const perSplit = SPLIT_SEEDS.map((seed) => {
    const { train, test, modTrain, modTest, clear } = evalSplit(pairs, labels, seed);
    // The first split's default probe is the one the tables above already trained (`first`).
    const r = seed === EVAL_SEED && first ? null : trainProbe(train, modTrain, { ...DEFAULT_TRAIN_OPTIONS, ...shape });
    const cal = r ? calOf(r) : first!.cal;
    const hh: RewardPairs = r ? { rc: Float64Array.from(test, (p) => r.probe.score(p.chosen)), rr: Float64Array.from(test, (p) => r.probe.score(p.rejected)) } : first!.hh;
    const m = r ? Float64Array.from(modTest, (l) => r.probe.score(l.features)) : first!.mod;
    const cc: RewardPairs = { rc: Float64Array.from(clear, ([s]) => m[s]), rr: Float64Array.from(clear, ([, u]) => m[u]) };
    const hhMasks = noiseMasks(test.length);
    const ccMasks = noiseMasks(clear.length);
    log(`split ${seed}: alpha ${cal.alpha}, unsafe slope ${cal.unsafeSlope}, label prior ${cal.labelPrior}`);
    return {
      seed,
      hhAccuracy: pairwiseAccuracy(hh.rc, hh.rr),
      responseAuroc: auroc(m, modTest.map((l) => l.safe)) ?? NaN,
      clearCutAccuracy: pairwiseAccuracy(cc.rc, cc.rr),
      budgets: SPLIT_BUDGETS.map((b) => {
        const rule = { ...cal, maxWrongFlips: b };
        const h = recovery(hh, rule, hhMasks);
        const c = recovery(cc, rule, ccMasks);
        return { budget: b, hhChange: h.delta, hhBrokenPct: h.brokenPct, clearChange: c.delta, clearBrokenPct: c.brokenPct, expectedWrongShare: (h.expectedWrongFlips + c.expectedWrongFlips) / Math.max(1e-9, h.undone + h.broken + c.undone + c.broken) };
      }),
    };
  });
  const stat = (xs: number[]) => ({ mean: xs.reduce((a, x) => a + x, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) });
  const rows: Row[] = [
    { what: 'HH pair accuracy', ...fmtStat(stat(perSplit.map((s) => s.hhAccuracy))) },
    { what: 'response AUROC', ...fmtStat(stat(perSplit.map((s) => s.responseAuroc))) },
    { what: 'clear-cut accuracy', ...fmtStat(stat(perSplit.map((s) => s.clearCutAccuracy))) },
    ...SPLIT_BUDGETS.flatMap((b, k) => {
      const tag = `budget ${b}${b === RELABEL_DEFAULTS.maxWrongFlips ? ' (default)' : ''}`;
      return [
        { what: `${tag}: HH agreement change`, ...fmtStat(stat(perSplit.map((s) => s.budgets[k].hhChange))) },
        { what: `${tag}: HH correct broken %`, ...fmtStat(stat(perSplit.map((s) => s.budgets[k].hhBrokenPct))) },
        { what: `${tag}: clear-cut agreement change`, ...fmtStat(stat(perSplit.map((s) => s.budgets[k].clearChange))) },
        { what: `${tag}: clear-cut correct broken %`, ...fmtStat(stat(perSplit.map((s) => s.budgets[k].clearBrokenPct))) },
        { what: `${tag}: expected share of wrong swaps`, ...fmtStat(stat(perSplit.map((s) => s.budgets[k].expectedWrongShare))) },
      ];
    }),
  ];
  return { seeds: SPLIT_SEEDS, perSplit, summary: rows };
}

function fmtStat(s: { mean: number; min: number; max: number }): Row {
  return { mean: s.mean, min: s.min, max: s.max };
}

/**
 * The default model's features without its GloVe layer (the last one): USE lite alone, the default
 * until 2026-12-07, on the same pairs and splits, so the two are compared split by split.
 */
function withoutGlove(pairs: readonly FeaturePair[], labels: readonly FeatureLabel[], shape: { layers: number; width: number }) {
  if (shape.layers !== GLOVE_LAYER + 1) throw new Error(`the default model has ${shape.layers} layers; GloVe's is expected last, as layer ${GLOVE_LAYER}`);
  const keep = GLOVE_LAYER * shape.width;
  return {
    pairs: pairs.map((p) => ({ ...p, chosen: p.chosen.slice(0, keep), rejected: p.rejected.slice(0, keep) })),
    labels: labels.map((l) => ({ ...l, features: l.features.slice(0, keep) })),
    shape: { layers: GLOVE_LAYER, width: shape.width },
  };
}

/** Injected noise: for each seed, which pairs are presented in the wrong order. */
function noiseMasks(n: number): boolean[][] {
  return Array.from({ length: NOISE_SEEDS }, (_, s) => {
    const flip = new Set(new Prng(EVAL_SEED * 1000 + s).permutation(n).slice(0, Math.round(NOISE * n)));
    return Array.from({ length: n }, (_, i) => flip.has(i));
  });
}

/** Flips undone, pairs broken and the agreement change over all noise seeds, with a bootstrap CI. */
function recovery(r: RewardPairs, rule: Evidence & { labelPrior: number; maxWrongFlips: number }, masks: readonly boolean[][]) {
  const n = r.rc.length;
  const perPair = new Float64Array(n); // each pair's mean agreement change over the seeds
  let undone = 0, broken = 0, flippedIn = 0, expected = 0;
  for (const m of masks) {
    const o = relabelOutcomes(r, rule, m);
    expected += o.expectedWrongFlips;
    for (let i = 0; i < n; i++) {
      perPair[i] += o.outcome[i] / masks.length;
      if (o.outcome[i] > 0) undone++;
      else if (o.outcome[i] < 0) broken++;
      if (m[i]) flippedIn++;
    }
  }
  const rng = new Prng(EVAL_SEED + 99);
  const means: number[] = [];
  for (let b = 0; b < BOOTSTRAP; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += perPair[rng.int(n)];
    means.push(s / n);
  }
  means.sort((a, b) => a - b);
  const k = masks.length;
  const delta = perPair.reduce((a, x) => a + x, 0) / n;
  return {
    flippedIn: flippedIn / k,
    undone: undone / k,
    broken: broken / k,
    undonePct: (100 * undone) / flippedIn,
    brokenPct: (100 * broken) / (n * k - flippedIn),
    agreeBefore: 1 - flippedIn / (n * k),
    agreeAfter: 1 - flippedIn / (n * k) + delta,
    delta,
    deltaLo: means[Math.floor(0.025 * BOOTSTRAP)],
    deltaHi: means[Math.ceil(0.975 * BOOTSTRAP) - 1],
    expectedWrongFlips: expected / k,
    /** Share of swaps that broke a correct pair, against the budget. */
    wrongSwapShare: undone + broken ? broken / (undone + broken) : null,
  };
}

/** ECE of the posterior P(label right) against the clean labels, on the noisy presentation. */
function posteriorEce(r: RewardPairs, cal: Evidence & { labelPrior: number }, masks: readonly boolean[][]): number {
  const p: number[] = [];
  const right: boolean[] = [];
  for (const m of masks)
    for (let i = 0; i < r.rc.length; i++) {
      p.push(m[i] ? labelPosterior(cal.labelPrior, cal, r.rr[i], r.rc[i]) : labelPosterior(cal.labelPrior, cal, r.rc[i], r.rr[i]));
      right.push(!m[i]);
    }
  return reliability(p, right, 10).ece;
}

/** A trained probe's calibration as the rerank default uses it (labelPrior 0.5 if none). */
function calOf(r: TrainProbeResult): Evidence & { labelPrior: number } {
  return { alpha: r.alpha, unsafeSlope: r.calibration?.unsafeSlope ?? 0, labelPrior: r.calibration?.labelPrior ?? 0.5 };
}

export async function evalProbe(log: (l: string) => void = () => {}) {
  const t0 = Date.now();
  await using embedder = await openDefaultEmbedder();
  const hh = await hhFeatures(embedder);
  const mod = await moderationLabels(embedder);
  const shape = { layers: embedder.layers.length, width: embedder.width };
  const { train, test, modTrain, modTest, modTestIdx, clear } = evalSplit(hh.pairs, mod.labels, EVAL_SEED);
  const modSafe = modTest.map((l) => l.safe);
  log(`${hh.pairs.length} HH pairs: ${train.length} train, ${test.length} test (seed ${EVAL_SEED}); moderation texts: ${modTrain.length} train, ${modTest.length} test`);

  const methods: Method[] = [];
  const probeOf = (labels: FeatureLabel[], name: string, note: string) => {
    const r = trainProbe(train, labels, { ...DEFAULT_TRAIN_OPTIONS, ...shape });
    methods.push({
      name,
      hh: { rc: Float64Array.from(test, (p) => r.probe.score(p.chosen)), rr: Float64Array.from(test, (p) => r.probe.score(p.rejected)) },
      mod: Float64Array.from(modTest, (l) => r.probe.score(l.features)),
      cal: calOf(r),
      note: `${note}; slopes from ${r.calibration?.slopeSource ?? '-'}; best epoch ${r.metrics.bestEpoch}`,
    });
  };
  probeOf([], 'probe (pairs only)', 'the previous default');
  probeOf(modTrain, 'probe (pairs + moderation)', 'the default recipe, moderation train half (logistic loss)');
  const defaultRecipe = methods[methods.length - 1];

  // Baseline 1: response length in characters, with the direction that fits the training pairs;
  // alpha and the label prior fitted on the training pairs' margins.
  const lenAcc = pairwiseAccuracy(train.map((p) => p.chosenText.length), train.map((p) => p.rejectedText.length));
  const sign = lenAcc >= 0.5 ? 1 : -1;
  const len = (t: string) => (sign * t.length) / 100;
  const lenCal = fitCalibration({ rc: train.map((p) => len(p.chosenText)), rr: train.map((p) => len(p.rejectedText)) })!;
  methods.push({
    name: 'baseline: length',
    hh: { rc: Float64Array.from(test, (p) => len(p.chosenText)), rr: Float64Array.from(test, (p) => len(p.rejectedText)) },
    mod: Float64Array.from(modTestIdx, (i) => len(mod.texts[i])),
    cal: lenCal,
    note: `${sign > 0 ? 'longer' : 'shorter'} is better (train accuracy ${(sign > 0 ? lenAcc : 1 - lenAcc).toFixed(4)})`,
  });

  // Baseline 2: bag-of-words linear reward, same loss and trainer.
  const bowTrain = train.map((p) => ({ chosen: bagOfWords(p.chosenText), rejected: bagOfWords(p.rejectedText) }));
  const bow = trainProbe(bowTrain, [], { ...DEFAULT_TRAIN_OPTIONS, layers: 1, width: BOW_BUCKETS });
  methods.push({
    name: 'baseline: bag of words',
    hh: { rc: Float64Array.from(test, (p) => bow.probe.score(bagOfWords(p.chosenText))), rr: Float64Array.from(test, (p) => bow.probe.score(bagOfWords(p.rejectedText))) },
    mod: Float64Array.from(modTestIdx, (i) => bow.probe.score(bagOfWords(mod.texts[i]))),
    cal: calOf(bow),
    note: `${BOW_BUCKETS} hashed word buckets, log counts; best epoch ${bow.metrics.bestEpoch}`,
  });

  const hhMasks = noiseMasks(test.length);
  const clearMasks = noiseMasks(clear.length);
  const accuracyRows: Row[] = [];
  const noiseRows: Row[] = [];
  for (const m of methods) {
    const clearR: RewardPairs = { rc: Float64Array.from(clear, ([s]) => m.mod[s]), rr: Float64Array.from(clear, ([, u]) => m.mod[u]) };
    accuracyRows.push({
      method: m.name,
      hhAccuracy: pairwiseAccuracy(m.hh.rc, m.hh.rr),
      responseAuroc: auroc(m.mod, modSafe),
      clearCutAccuracy: pairwiseAccuracy(clearR.rc, clearR.rr),
      alpha: m.cal.alpha,
      unsafeSlope: m.cal.unsafeSlope,
      labelPrior: m.cal.labelPrior,
      posteriorEceHh: posteriorEce(m.hh, m.cal, hhMasks),
      posteriorEceClear: posteriorEce(clearR, m.cal, clearMasks),
      note: m.note,
    });
    // The paper's rule is the paper's form: plain alpha * d with prior 0.5.
    const rules = [
      { rule: 'paper: c < 0.5, prior 0.5', alpha: m.cal.alpha, unsafeSlope: 0, labelPrior: 0.5, maxWrongFlips: 0.5 },
      ...BUDGETS.map((b) => ({ rule: `posterior, budget ${b}${b === RELABEL_DEFAULTS.maxWrongFlips ? ' (default)' : ''}`, ...m.cal, maxWrongFlips: b })),
    ];
    for (const [set, d, masks] of [['HH test', m.hh, hhMasks], ['clear-cut', clearR, clearMasks]] as const)
      for (const r of rules) {
        const x = recovery(d, r, masks);
        noiseRows.push({
          method: m.name,
          set,
          rule: r.rule,
          pairs: d.rc.length,
          flipsUndone: `${x.undone.toFixed(1)}/${x.flippedIn.toFixed(0)}`,
          undonePct: x.undonePct,
          correctBrokenPct: x.brokenPct,
          agreeBefore: x.agreeBefore,
          agreeAfter: x.agreeAfter,
          change: x.delta,
          ci95: `[${x.deltaLo.toFixed(4)}, ${x.deltaHi.toFixed(4)}]`,
          wrongSwapShare: x.wrongSwapShare,
          expectedWrongSwaps: x.expectedWrongFlips,
        });
      }
  }
  const splits = acrossSplits(hh.pairs, mod.labels, shape, defaultRecipe, log);
  const use = withoutGlove(hh.pairs, mod.labels, shape);
  const useSplits = acrossSplits(use.pairs, use.labels, use.shape, null, log);
  return {
    seed: EVAL_SEED,
    testFraction: TEST_FRACTION,
    noise: NOISE,
    noiseSeeds: NOISE_SEEDS,
    pairs: hh.pairs.length,
    trainPairs: train.length,
    testPairs: test.length,
    moderation: { train: modTrain.length, test: modTest.length, testSafe: modSafe.filter(Boolean).length, clearCutPairs: clear.length },
    accuracy: accuracyRows,
    noiseRecovery: noiseRows,
    splits,
    withoutGlove: useSplits,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** Numbers to 4 decimals, laid out by src/analysis/table.ts. */
function table(rows: readonly Row[]): string {
  return recordTable(rows, (v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v));
}

const isMain = process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href;
if (isMain) {
  const out = process.argv[2] ?? join(projectRoot(), 'bench', 'results', 'eval-probe.json');
  try {
    const r = await evalProbe((l) => process.stderr.write(l + '\n'));
    process.stdout.write(`\nHeld-out quality (HH-RLHF harmless: ${r.testPairs} test pairs; moderation: ${r.moderation.test} test texts, ${r.moderation.clearCutPairs} clear-cut safe/unsafe pairs)\n${table(r.accuracy)}\n`);
    process.stdout.write(`\nNoise recovery: ${r.noise * 100}% of the pairs presented in the wrong order (${r.noiseSeeds} seeds pooled); change = agreement after - before, 95% bootstrap interval\n${table(r.noiseRecovery)}\n`);
    process.stdout.write(`\nThe default recipe over ${r.splits.seeds.length} independent splits (seeds ${r.splits.seeds.join(', ')}; the first is the split above): mean, worst and best split\n${table(r.splits.summary)}\n`);
    process.stdout.write(`\nThe same recipe and splits without the default model's GloVe layer (USE lite alone, the default until 2026-12-07)\n${table(r.withoutGlove.summary)}\n`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(r, null, 2) + '\n');
    process.stderr.write(`wrote ${out} (${r.seconds.toFixed(1)} s)\n`);
  } catch (err) {
    process.stderr.write(`eval failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
