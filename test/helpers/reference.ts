/**
 * The PyTorch reference of a decoder export (reference.json, written by the export tool's --check)
 * and the one comparison of prefrank's features with it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Reference {
  layers: number;
  width: number;
  texts: { text: string; ids: number[]; features: number[][] }[];
}

export function readReference(dir: string): Reference {
  return JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
}

/** Each text's features at each layer within `tolerance` of the reference, relative to the layer's largest value. */
export function assertNearReference(ref: Reference, got: readonly { features: Float32Array }[], tolerance: number, label: string): void {
  ref.texts.forEach((t, i) => {
    for (let l = 0; l < ref.layers; l++) {
      const want = t.features[l];
      const have = got[i].features.subarray(l * ref.width, (l + 1) * ref.width);
      const scale = Math.max(...want.map(Math.abs));
      const diff = Math.max(...want.map((w, k) => Math.abs(w - have[k])));
      assert.ok(diff / scale < tolerance, `${label}, "${t.text}", layer ${l}: ${diff / scale} relative`);
    }
  });
}
