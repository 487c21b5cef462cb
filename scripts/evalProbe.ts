/**
 * `npm run eval`: quality evidence for the representation reward on the shared HH-RLHF harmless
 * pairs, with the default model and the default probe recipe.
 *
 * 1. A seeded test split (20%) is set aside; the probe is trained on the rest (its own internal
 *    held-out split drives early stopping and alpha), so test pairs are never seen in training.
 * 2. Pairwise accuracy against the human labels and calibration (ECE) on the test split.
 * 3. Noise recovery: a seeded 25% of the test pairs are flipped, then re-ranked by the relabelPairs
 *    operator (swap policy, thresholds 0.5 and stricter); counted: flips undone, correct pairs broken,
 *    agreement with the original labels before and after.
 * 4. The same for baselines trained on the same training pairs: response length (direction fitted
 *    on the training pairs) and a bag-of-words linear reward (hashed log counts of the response's
 *    words, trained with the same margin loss and trainer as the probe).
 * Prints a table and writes JSON (default bench/results/eval-probe.json, or the path given).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { lastValueFrom, of } from 'rxjs';
import { relabelPairs } from '../operators/relabelPairs.js';
import type { PairRecord } from '../schemas/records.js';
import type { FeaturePair } from '../src/probe/featureData.js';
import { fitAlpha, pairReliability, pairwiseAccuracy } from '../src/probe/metrics.js';
import { Prng } from '../src/probe/Prng.js';
import { splitIndices, trainProbe, type TrainingLabel } from '../src/probe/trainProbe.js';
import { projectRoot } from '../src/runtime/paths.js';
import { Stats } from '../src/runtime/Stats.js';
import { DEFAULT_TRAIN_OPTIONS } from './buildProbe.js';
import { hhFeatures, moderationLabels, openDefaultEmbedder } from './probeData.js';

const EVAL_SEED = 7;
const TEST_FRACTION = 0.2;
const NOISE = 0.25;
const THRESHOLDS = [0.5, 0.3, 0.2];
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

interface Scored {
  readonly name: string;
  /** Rewards of the test pairs' chosen and rejected responses (original human order). */
  readonly rc: Float32Array;
  readonly rr: Float32Array;
  readonly alpha: number;
  readonly note: string;
}

async function noiseRecovery(m: Scored, test: readonly FeaturePair[], flipped: readonly boolean[], threshold: number) {
  // Records in their noisy order: a flipped pair presents the human-rejected response as chosen.
  const items: PairRecord[] = test.map((p, i) => ({
    kind: 'pair',
    pairId: p.pairId,
    sourceFile: p.sourceFile,
    sourceRow: p.sourceRow,
    prompt: p.prompt,
    chosen: flipped[i] ? p.rejectedText : p.chosenText,
    rejected: flipped[i] ? p.chosenText : p.rejectedText,
    chosenSafe: null,
    rejectedSafe: null,
    category: p.category,
    passThrough: {},
    rewardChosen: flipped[i] ? m.rr[i] : m.rc[i],
    rewardRejected: flipped[i] ? m.rc[i] : m.rr[i],
  }));
  const part = { index: 0, count: 1, file: 'test', format: 'jsonl' as const, rowGroups: null, firstRow: 0 };
  const out = await lastValueFrom(of({ part, index: 0, items }).pipe(relabelPairs({ alpha: m.alpha, threshold, policy: 'swap', stats: new Stats() })));
  let undone = 0, broken = 0, agreeAfter = 0;
  out.items.forEach((it, i) => {
    const swapped = (it as PairRecord).flipped === true;
    if (flipped[i] && swapped) undone++;
    if (!flipped[i] && swapped) broken++;
    if (flipped[i] === swapped) agreeAfter++; // in the human order: a flip undone, or a correct pair kept
  });
  const nFlipped = flipped.filter(Boolean).length;
  return { nFlipped, undone, broken, swapped: out.items.filter((it) => (it as PairRecord).flipped).length, agreeAfter: agreeAfter / test.length };
}

export async function evalProbe(log: (l: string) => void = () => {}) {
  const t0 = Date.now();
  await using embedder = await openDefaultEmbedder();
  const hh = await hhFeatures(embedder);
  const mod = await moderationLabels(embedder);
  const shape = { layers: embedder.layers.length, width: embedder.width };
  const [trainIdx, testIdx] = splitIndices(hh.pairs.length, TEST_FRACTION, EVAL_SEED);
  const train = trainIdx.map((i) => hh.pairs[i]);
  const test = testIdx.map((i) => hh.pairs[i]);
  log(`${hh.pairs.length} pairs: ${train.length} train, ${test.length} test (seed ${EVAL_SEED}); ${mod.labels.length} moderation labels`);

  const methods: Scored[] = [];
  const probeOf = (labels: TrainingLabel[], name: string, note: string) => {
    const r = trainProbe(train, labels, { ...DEFAULT_TRAIN_OPTIONS, ...shape });
    methods.push({ name, rc: r.probe.scoreMatrix(concat(test.map((p) => p.chosen)), test.length), rr: r.probe.scoreMatrix(concat(test.map((p) => p.rejected)), test.length), alpha: r.alpha, note: `${note}; best epoch ${r.metrics.bestEpoch}` });
    return r;
  };
  const withMod = probeOf(mod.labels, 'probe (pairs + moderation)', 'moderation texts added (logistic loss)');
  probeOf([], 'probe (pairs only)', 'moderation texts left out');

  // Baseline 1: response length in characters, with the direction that fits the training pairs.
  const lenAcc = pairwiseAccuracy(train.map((p) => p.chosenText.length), train.map((p) => p.rejectedText.length));
  const sign = lenAcc >= 0.5 ? 1 : -1;
  const lenD = train.map((p) => sign * (p.chosenText.length - p.rejectedText.length) / 100);
  methods.push({
    name: 'baseline: length',
    rc: Float32Array.from(test, (p) => (sign * p.chosenText.length) / 100),
    rr: Float32Array.from(test, (p) => (sign * p.rejectedText.length) / 100),
    alpha: fitAlpha(lenD),
    note: `${sign > 0 ? 'longer' : 'shorter'} is better (train accuracy ${(sign > 0 ? lenAcc : 1 - lenAcc).toFixed(4)})`,
  });

  // Baseline 2: bag-of-words linear reward, same loss and trainer.
  const bowTrain = train.map((p) => ({ chosen: bagOfWords(p.chosenText), rejected: bagOfWords(p.rejectedText) }));
  const bow = trainProbe(bowTrain, [], { ...DEFAULT_TRAIN_OPTIONS, layers: 1, width: BOW_BUCKETS });
  methods.push({
    name: 'baseline: bag of words',
    rc: Float32Array.from(test, (p) => bow.probe.score(bagOfWords(p.chosenText))),
    rr: Float32Array.from(test, (p) => bow.probe.score(bagOfWords(p.rejectedText))),
    alpha: bow.alpha,
    note: `${BOW_BUCKETS} hashed word buckets, log counts; best epoch ${bow.metrics.bestEpoch}`,
  });

  const rng = new Prng(EVAL_SEED + 1);
  const flipIdx = new Set(rng.permutation(test.length).slice(0, Math.round(NOISE * test.length)));
  const flipped = test.map((_, i) => flipIdx.has(i));

  const accuracyRows: Row[] = [];
  const noiseRows: Row[] = [];
  for (const m of methods) {
    accuracyRows.push({ method: m.name, testPairs: test.length, accuracy: pairwiseAccuracy(m.rc, m.rr), alpha: m.alpha, ece: pairReliability(m.rc, m.rr, m.alpha).ece, note: m.note });
    for (const threshold of THRESHOLDS) {
      const r = await noiseRecovery(m, test, flipped, threshold);
      noiseRows.push({
        method: m.name,
        threshold,
        flippedIn: r.nFlipped,
        flipsUndone: r.undone,
        undonePct: (100 * r.undone) / r.nFlipped,
        correctBroken: r.broken,
        brokenPct: (100 * r.broken) / (test.length - r.nFlipped),
        agreeBefore: 1 - r.nFlipped / test.length,
        agreeAfter: r.agreeAfter,
      });
    }
  }
  return {
    seed: EVAL_SEED,
    testFraction: TEST_FRACTION,
    noise: NOISE,
    pairs: hh.pairs.length,
    trainPairs: train.length,
    testPairs: test.length,
    moderationLabels: mod.labels.length,
    probeInternalHeldOut: { accuracy: withMod.metrics.heldOutAccuracy, moderationAuroc: withMod.metrics.heldOutAuroc },
    accuracy: accuracyRows,
    noiseRecovery: noiseRows,
    seconds: (Date.now() - t0) / 1000,
  };
}

function concat(xs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

function table(rows: readonly Row[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const fmt = (v: Row[string] | undefined) => (v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v);
  const cells = rows.map((r) => cols.map((c) => fmt(r[c])));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (v: string[]) => v.map((x, i) => x.padEnd(w[i])).join('  ').trimEnd();
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n');
}

const isMain = process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href;
if (isMain) {
  const out = process.argv[2] ?? join(projectRoot(), 'bench', 'results', 'eval-probe.json');
  try {
    const r = await evalProbe((l) => process.stderr.write(l + '\n'));
    process.stdout.write(`\nPairwise accuracy vs the human labels (HH-RLHF harmless, ${r.testPairs} test pairs)\n${table(r.accuracy)}\n`);
    process.stdout.write(`\nNoise recovery: ${r.noise * 100}% of the test pairs flipped (seeded), re-ranked with relabelPairs --policy swap\n${table(r.noiseRecovery)}\n`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(r, null, 2) + '\n');
    process.stderr.write(`wrote ${out} (${r.seconds.toFixed(1)} s)\n`);
  } catch (err) {
    process.stderr.write(`eval failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
