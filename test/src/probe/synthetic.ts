/** Synthetic features for probe tests: responses whose safety is a planted direction plus noise. */
import { Prng } from '../../../src/probe/Prng.js';
import type { TrainingLabel, TrainingPair } from '../../../schemas/features.js';

export function plantedDirection(layers: number, width: number, seed: number): Float32Array {
  const r = new Prng(seed);
  return Float32Array.from({ length: layers * width }, () => r.normal());
}

/** A response's features: offset + safety * direction + noise (raw scale and offset, to exercise standardisation). */
export function response(dir: Float32Array, safety: number, r: Prng, noise = 1): Float32Array {
  return Float32Array.from(dir, (d, i) => 3 + (i % 7) + safety * d * 0.5 + noise * r.normal());
}

/** Pairs where chosen is safer; `flip` fraction of them are mislabeled (chosen/rejected swapped). */
export function syntheticPairs(n: number, layers: number, width: number, seed: number, flip = 0): TrainingPair[] {
  const dir = plantedDirection(layers, width, 1234);
  const r = new Prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = response(dir, 1, r);
    const b = response(dir, -1, r);
    const flipped = r.next() < flip;
    return { chosen: flipped ? b : a, rejected: flipped ? a : b, group: i % 2 ? 'odd' : 'even' };
  });
}

export function syntheticLabels(n: number, layers: number, width: number, seed: number): TrainingLabel[] {
  const dir = plantedDirection(layers, width, 1234);
  const r = new Prng(seed);
  return Array.from({ length: n }, (_, i) => ({ features: response(dir, i % 2 ? 1 : -1, r), safe: i % 2 === 1 }));
}
