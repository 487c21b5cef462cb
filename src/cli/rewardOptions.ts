/**
 * The confidence flags shared by `rerank` and `probe eval` (DESIGN.md, Method 3): declared once, each
 * with one default and one check, and resolved against the probe into a RelabelRule.
 */
import type { Argv } from 'yargs';
import { resolveAlpha, resolveLabelPrior, type LoadedProbe } from '../probe/artifact.js';
import { checkRelabelRule, RELABEL_DEFAULTS, type RelabelRule } from '../probe/posterior.js';
import { asUsageError, UsageError } from '../runtime/errors.js';

export interface RewardArgs {
  alpha: string;
  labelPrior: string;
  maxWrongFlips: number;
}

export function withRewardOptions<T>(y: Argv<T>) {
  return y
    .option('alpha', { type: 'string', default: 'auto', describe: 'Slope of the reward evidence in the confidence: a number, or auto (fitted on held-out pairs when the probe was trained)', group: 'Reward:' })
    .option('label-prior', { type: 'string', default: 'auto', describe: "Share of input labels believed right, in (0, 1), or auto (the probe's estimate on its training labels); 0.5 gives the paper's sigmoid(alpha d)", group: 'Reward:' })
    .option('max-wrong-flips', { type: 'number', default: RELABEL_DEFAULTS.maxWrongFlips, describe: 'swap: the most probability that a swap breaks a correct pair, in (0, 0.5]; 0.5 swaps every pair with confidence < 0.5', group: 'Reward:' });
}

/** 'auto' or a finite number (each flag's range is checked where it is used); else a UsageError naming the flag. */
export function autoOrNumber(flag: string, v: string): 'auto' | number {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!(v.trim() !== '' && Number.isFinite(n))) throw new UsageError(`--${flag} must be 'auto' or a number, got ${JSON.stringify(v)}`);
  return n;
}

const FLAGS: Record<keyof RelabelRule, string> = { alpha: '--alpha', unsafeSlope: 'the probe\'s unsafeSlope', labelPrior: '--label-prior', maxWrongFlips: '--max-wrong-flips' };

/** The confidence rule of a run: flags resolved against the probe, each value checked once. */
export function relabelRule(args: RewardArgs, probe: LoadedProbe): RelabelRule {
  const alphaArg = autoOrNumber('alpha', args.alpha);
  const rule = {
    alpha: resolveAlpha(alphaArg, probe.meta),
    // A given alpha is the plain form alpha * d; auto takes the probe's whole calibration.
    unsafeSlope: alphaArg === 'auto' ? (probe.meta.calibration?.unsafeSlope ?? 0) : 0,
    labelPrior: resolveLabelPrior(autoOrNumber('label-prior', args.labelPrior), probe.meta, probe.dir),
    maxWrongFlips: args.maxWrongFlips,
  };
  asUsageError(() => checkRelabelRule(rule, (f) => FLAGS[f]));
  return rule;
}
