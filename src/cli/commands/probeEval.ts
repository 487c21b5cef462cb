/**
 * `prefrank probe eval`: a probe's quality on any labelled set (src/probe/evaluate.ts), printed as
 * tables and optionally written as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CommandModule } from 'yargs';
import { textTable } from '../../analysis/table.js';
import { checkProbeCompatibility, featureSourceOf, loadProbe } from '../../probe/artifact.js';
import { evaluateProbe, type Evaluation } from '../../probe/evaluate.js';
import { UsageError } from '../../runtime/errors.js';
import { Logger } from '../../runtime/Logger.js';
import { withEmbedOptions, type EmbedArgs } from '../embedOptions.js';
import { withInputOptions } from '../ioOptions.js';
import { loadFeatures, type InputArgs } from '../probeInputs.js';
import { relabelRule, withRewardOptions, type RewardArgs } from '../rewardOptions.js';

type EvalArgs = InputArgs & EmbedArgs & RewardArgs & { probe: string; json?: string; force: boolean; bins: number; noise: number; seed: number };

export const evalCommand: CommandModule<object, EvalArgs> = {
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
    const { features, embedder } = await loadFeatures(args, log, (e, modelName) => {
      const diffs = checkProbeCompatibility(loaded.meta, featureSourceOf(e, modelName), { force: args.force, probeDir: args.probe });
      for (const d of diffs) log.warn(`--force: probe does not match the model: ${d}`);
    });
    await embedder.close();
    const result = { probe: args.probe, probeSha256: loaded.sha256, ...evaluateProbe(loaded.probe, features, rule, args) };
    process.stdout.write(formatEvaluation(result, `${args.probe} (${loaded.meta.kind}, alpha ${rule.alpha.toFixed(4)})`) + '\n');
    if (args.json) {
      mkdirSync(dirname(args.json), { recursive: true });
      writeFileSync(args.json, JSON.stringify(result, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2) + '\n');
      log.info(`wrote ${args.json}`);
    }
  },
};

/** The evaluation as the tables `probe eval` prints. */
function formatEvaluation(result: Evaluation, probeLine: string): string {
  const f = (x: number | null) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(4));
  const { noise, seed, rows: curve } = result.tradeoff;
  const out: string[] = [];
  out.push(
    textTable([
      ['probe', probeLine],
      ['pairs', String(result.pairs)],
      ['pairwise accuracy', f(result.accuracy)],
      ['mean log-likelihood', f(result.logLikelihood)],
      ['ECE (confidence)', f(result.ece)],
      ['labelled responses', String(result.labels)],
      ['AUROC (safety labels)', result.labels ? f(result.auroc) : '- (no per-response labels)'],
    ]),
  );
  if (result.pairs) {
    out.push('\nReliability of the confidence max(c, 1 - c) vs agreement with the human label');
    out.push(textTable([['confidence bin', 'pairs', 'mean confidence', 'agreement'], ...result.reliability.map((b) => [`[${b.lo.toFixed(2)}, ${b.hi.toFixed(2)})`, String(b.n), f(b.confidence), f(b.accuracy)])], true));
    out.push(`\nRelabel trade-off: ${(100 * noise).toFixed(0)}% of the pairs presented in the wrong order (seed ${seed}); first row: the paper's rule (label prior 0.5, swap when c < 0.5)`);
    out.push(
      textTable(
        [
          ['label prior', 'max wrong flips', 'flips undone', 'correct broken', 'agreement before', 'after', 'expected wrong swaps'],
          ...curve.map((r) => [r.labelPrior.toFixed(3), r.maxWrongFlips.toFixed(2), `${r.undone} / ${r.flippedIn}`, `${r.broken} / ${r.pairs - r.flippedIn}`, f(r.agreeBefore), f(r.agreeAfter), r.expectedWrongFlips.toFixed(1)]),
        ],
        true,
      ),
    );
    out.push('\nBy source');
    out.push(textTable([['source', 'pairs', 'accuracy'], ...result.bySource.map((g) => [g.group, String(g.n), f(g.accuracy)])], true));
    if (result.byCategory.length > 1 || result.byCategory[0]?.group !== '(none)') {
      out.push('\nBy category');
      out.push(textTable([['category', 'pairs', 'accuracy'], ...result.byCategory.map((g) => [g.group, String(g.n), f(g.accuracy)])], true));
    }
  }
  return out.join('\n');
}
