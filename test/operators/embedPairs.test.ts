import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { EMPTY, firstValueFrom, from, lastValueFrom, NEVER, concat, of, throwError, toArray } from 'rxjs';
import { embedPairs, type PairEmbedder } from '../../operators/embedPairs.js';
import type { EmbeddedList, EmbeddedPair, Embedding } from '../../schemas/records.js';
import type { EmbedInput, EmbedOutput } from '../../src/runtime/model/Embedder.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { sharedPath } from '../../src/runtime/paths.js';
import { Stats } from '../../src/runtime/Stats.js';
import { batch, list, pair, reject } from './probeItems.js';

/** Features = [response length]; empty responses have no tokens; slower for earlier batches. */
function fakeEmbedder(calls: EmbedInput[][] = []): PairEmbedder {
  return {
    async embed(inputs) {
      calls.push([...inputs]);
      await sleep(inputs.length % 3 === 0 ? 15 : 1);
      const embeddings = inputs.map((x): Embedding | null => {
        const r = typeof x === 'string' ? x : x.response;
        return r === '' ? null : { features: Float32Array.of(r.length), layers: 1, width: 1, tokens: r.length, truncated: false };
      });
      const out: EmbedOutput = { embeddings, info: { texts: inputs.length, tokens: 7, computed: inputs.length, computedTokens: 7, paddedSlots: 10, batches: 1, truncated: 1, cacheHits: 0, empty: 0 } };
      return out;
    },
  };
}

describe('embedPairs', () => {
  it('fills embChosen/embRejected and list embeddings, passes rejects, keeps batch order, counts', async () => {
    const stats = new Stats();
    const calls: EmbedInput[][] = [];
    const p1 = pair(1);
    const l2 = list(2, ['a', 'bb', 'ccc']);
    const out = await lastValueFrom(from([batch(0, [p1, reject(9), l2]), batch(1, [reject(3)]), batch(2, [pair(4)])]).pipe(embedPairs({ embedder: fakeEmbedder(calls), stats }), toArray()));
    assert.deepEqual(out.map((b) => b.index), [0, 1, 2]);
    const [q1, r9, q2] = out[0].items as [EmbeddedPair, unknown, EmbeddedList];
    assert.deepEqual(Array.from(q1.embChosen.features), ['chosen 1'.length]);
    assert.deepEqual(Array.from(q1.embRejected.features), ['rejected 1'.length]);
    assert.deepEqual(q2.embeddings.map((e) => e.features[0]), [1, 2, 3]);
    assert.deepEqual(r9, reject(9));
    assert.deepEqual(out[1], batch(1, [reject(3)])); // nothing to embed: the batch passes as it is
    // one embed call per batch that has texts, with the prompt and each response
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0][0], { prompt: 'prompt 1', response: 'chosen 1' });
    assert.equal(calls[0].length, 5);
    assert.equal(stats.get('embedPairs.texts'), 7);
    assert.equal(stats.get('embedPairs.paddedSlots'), 20);
    assert.equal(stats.get('embedPairs.truncated'), 2);
  });

  it('a text with no tokens turns its record into a reject', async () => {
    const stats = new Stats();
    const out = await firstValueFrom(of(batch(0, [pair(1, { rejected: '' }), list(2, ['x', '']), pair(3)])).pipe(embedPairs({ embedder: fakeEmbedder(), stats })));
    assert.deepEqual(
      out.items.map((i) => (i.kind === 'reject' ? i.reason : i.kind)),
      ['no tokens after tokenization: rejected', 'no tokens after tokenization: response 1', 'pair'],
    );
    assert.equal(stats.get('embedPairs.rejected'), 2);
  });

  it('empty source, source error, embed failure, and early unsubscribe', async () => {
    const stats = new Stats();
    const embedder = fakeEmbedder();
    assert.deepEqual(await lastValueFrom(EMPTY.pipe(embedPairs({ embedder, stats }), toArray())), []);
    await assert.rejects(lastValueFrom(concat(of(batch(0, [pair(1)])), throwError(() => new Error('disk'))).pipe(embedPairs({ embedder, stats }))), /disk/);
    const failing: PairEmbedder = { embed: async () => Promise.reject(new Error('onnxruntime: out of memory')) };
    await assert.rejects(lastValueFrom(of(batch(0, [pair(1)])).pipe(embedPairs({ embedder: failing, stats }))), /out of memory/);
    let torn = false;
    const sub = concat(of(batch(0, [pair(1)])), NEVER)
      .pipe(embedPairs({ embedder, stats }))
      .subscribe({ complete: () => (torn = true) });
    await sleep(20);
    sub.unsubscribe();
    assert.equal(sub.closed, true);
    assert.equal(torn, false);
    assert.throws(() => embedPairs({ embedder: {} as PairEmbedder, stats }), /options.embedder must be an open Embedder/);
  });

  it('with a real Embedder (bert-tiny): features of template(prompt, response)', async () => {
    await using embedder = await Embedder.open({ model: sharedPath('fixtures', 'bert-tiny', 'model.onnx'), device: 'cpu', template: '{prompt} {response}' });
    const stats = new Stats();
    const p = pair(1, { prompt: 'the people said', chosen: 'that he was', rejected: 'not here' });
    const out = await firstValueFrom(of(batch(0, [p, pair(2, { prompt: 'the people said', chosen: 'that he was', rejected: 'he was' })])).pipe(embedPairs({ embedder, stats })));
    const q = out.items[0] as EmbeddedPair;
    const [direct] = await embedder.embedTexts(['the people said that he was']);
    assert.deepEqual(Array.from(q.embChosen.features), Array.from(direct.features));
    assert.equal(q.embChosen.layers, 3);
    assert.equal(q.embChosen.width, 64);
    assert.equal(stats.get('embedPairs.texts'), 4);
    assert.equal(stats.get('embedPairs.cacheHits'), 1); // the repeated chosen text
    assert.equal(stats.get('embedPairs.computed'), 3);
  });
});
