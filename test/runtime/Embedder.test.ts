import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketByTokens } from '../../src/runtime/model/batching.js';
import { Embedder } from '../../src/runtime/model/Embedder.js';
import { openOrtSession, shortReason, webgpuPrecheck } from '../../src/runtime/model/openOrtSession.js';
import { sharedPath } from '../../src/runtime/paths.js';

const fixture = (name: string) => sharedPath('fixtures', name, 'model.onnx');
const TEXTS = [
  'the people said that this was not the first time they had been there',
  'he was',
  'they had been in the new city for two years and would not go back',
  'this is one of the most important things',
  'but',
  'we will see what the government has to say about it after the year',
];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('Embedder batching and padding', () => {
  it('bucketByTokens: every text once, sorted by length, within the budget, a long one alone', () => {
    const lengths = [5, 90, 7, 7, 30, 6, 120, 31, 5, 8];
    const groups = bucketByTokens(lengths, 64);
    assert.deepEqual(groups.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
    assert.deepEqual(groups.flat().map((i) => lengths[i]), [...lengths].sort((a, b) => a - b));
    for (const g of groups) assert.ok(g.length === 1 || g.length * Math.max(...g.map((i) => lengths[i])) <= 64, JSON.stringify(g));
    assert.deepEqual(groups.slice(-2), [[1], [6]]); // 90 and 120 exceed the budget: alone
    assert.deepEqual(bucketByTokens(lengths, 64), groups);
    assert.deepEqual(bucketByTokens([], 64), []);
  });

  for (const name of ['bert-tiny', 'llama-tiny']) {
    it(`${name}: batched features equal one-by-one features (max abs diff <= 1e-4)`, async () => {
      await using batched = await Embedder.open({ model: fixture(name), device: 'cpu', cacheMiB: 0, batchTokens: 40 });
      const { embeddings, info } = await batched.embed(TEXTS);
      assert.ok(info.batches > 1 && info.batches < TEXTS.length, `several mixed batches, got ${info.batches}`);
      assert.ok(info.paddedSlots >= info.computedTokens);
      for (let i = 0; i < TEXTS.length; i++) {
        const [one] = await batched.embedTexts([TEXTS[i]]);
        assert.ok(maxAbsDiff(embeddings[i]!.features, one.features) <= 1e-4, `${name} text ${i}`);
      }
    });
  }

  it('llama-tiny: left and right padding give the same features (position_ids follow the mask)', async () => {
    await using right = await Embedder.open({ model: fixture('llama-tiny'), device: 'cpu', paddingSide: 'right' });
    await using left = await Embedder.open({ model: fixture('llama-tiny'), device: 'cpu', paddingSide: 'left' });
    const r = await right.embedTexts(TEXTS);
    const l = await left.embedTexts(TEXTS);
    for (let i = 0; i < TEXTS.length; i++) assert.ok(maxAbsDiff(r[i].features, l[i].features) <= 1e-4, `text ${i}`);
    // and the feeds really are padded on opposite sides
    const rows = [Int32Array.of(5, 6, 7), Int32Array.of(8)];
    const ids = (e: Embedder) => Array.from(e.feeds(rows).input_ids.data as BigInt64Array, Number);
    assert.deepEqual(ids(right), [5, 6, 7, 8, 0, 0]);
    assert.deepEqual(ids(left), [5, 6, 7, 0, 0, 8]);
    assert.deepEqual(Array.from(left.feeds(rows).position_ids.data as BigInt64Array, Number), [0, 1, 2, 1, 1, 0]);
    assert.deepEqual(Array.from(left.feeds(rows).prefrank_last_index.data as BigInt64Array, Number), [2, 5]);
    assert.deepEqual(Array.from(right.feeds(rows).prefrank_last_index.data as BigInt64Array, Number), [2, 3]);
  });

  it('bert-tiny: left padding is refused with a log line (the model numbers positions itself)', async () => {
    const logs: string[] = [];
    await using e = await Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', paddingSide: 'left', log: (m) => logs.push(m) });
    assert.ok(logs.some((l) => /padding side left ignored: .* takes no position_ids/.test(l)), logs.join('\n'));
    assert.deepEqual(Array.from(e.feeds([Int32Array.of(5, 6), Int32Array.of(7)]).input_ids.data as BigInt64Array, Number), [5, 6, 7, 0]);
  });
});

describe('Embedder truncation, templates and cache', () => {
  it('truncation keeps the end of the text and says so', async () => {
    await using e = await Embedder.open({ model: fixture('llama-tiny'), device: 'cpu', maxTokens: 5, cacheMiB: 0 });
    const long = 'one two three four five six seven eight nine';
    const [cut, tail] = await e.embedTexts([long, 'five six seven eight nine']);
    assert.equal(cut.truncated, true);
    assert.equal(cut.tokens, 5);
    assert.equal(tail.truncated, false);
    assert.deepEqual(Array.from(cut.features), Array.from(tail.features));
    const { info } = await e.embed([long]);
    assert.equal(info.truncated, 1);
  });

  it('renders pairs through the template, in one pass', async () => {
    await using e = await Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', template: 'input:{prompt}output:{response}' });
    assert.equal(e.template, 'input:{prompt}output:{response}');
    assert.equal(e.render('a {response} b', 'c'), 'input:a {response} boutput:c');
    const [p] = await e.embedTexts([{ prompt: 'the people', response: 'said' }]);
    const [t] = await e.embedTexts(['input:the peopleoutput:said']);
    assert.deepEqual(Array.from(p.features), Array.from(t.features));
    await assert.rejects(Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', template: '{prompt}' }), /--template must contain \{response\}/);
    // The same check as the CLI's flags (checkEmbedderOptions), as a usage error.
    await assert.rejects(Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', batchTokens: 0 }), (e: Error) => e.name === 'UsageError' && /--batch-tokens must be an integer >= 1, got 0/.test(e.message));
    await assert.rejects(Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', cacheMiB: -1 }), /--cache-size must be a number of MiB >= 0, got -1/);
    await assert.rejects(Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', chatTemplate: true }), /--chat-template: .* has no chat_template/);
  });

  it('embeds a repeated text once per run (cache keyed by token ids), bounded by size', async () => {
    await using e = await Embedder.open({ model: fixture('bert-tiny'), device: 'cpu' });
    const first = await e.embed([TEXTS[0], TEXTS[1], TEXTS[0]]);
    assert.equal(first.info.computed, 2);
    assert.equal(first.info.cacheHits, 1);
    assert.equal(first.embeddings[0]!.features, first.embeddings[2]!.features);
    // "The" and "the" tokenize alike (lower-case normalizer), so they share an entry
    const second = await e.embed([TEXTS[1], TEXTS[0].replace('the', 'The')]);
    assert.equal(second.info.computed, 0);
    assert.equal(second.info.cacheHits, 2);
    assert.equal(e.cacheSize, 2);

    // one entry is 3 x 64 float32 = 768 bytes; 1000 bytes hold one
    await using tiny = await Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', cacheMiB: 1000 / 2 ** 20 });
    await tiny.embed([TEXTS[0], TEXTS[1]]); // computed shortest first: TEXTS[1], then TEXTS[0]
    assert.equal(tiny.cacheSize, 1);
    assert.equal((await tiny.embed([TEXTS[0]])).info.computed, 0);
    assert.equal((await tiny.embed([TEXTS[1]])).info.computed, 1); // evicted: least recently used
  });

  it('an empty text gives null, not an exception', async () => {
    await using e = await Embedder.open({ model: fixture('bert-tiny'), device: 'cpu' });
    const { embeddings, info } = await e.embed(['', 'he was']);
    assert.equal(embeddings[0], null);
    assert.ok(embeddings[1]);
    assert.equal(info.empty, 1);
    await assert.rejects(e.embedTexts(['']), /text 0 has no tokens/);
  });
});

describe('device selection', () => {
  // This machine has no GPU: every GPU provider must fail cleanly and fall back to the CPU.
  for (const device of ['webgpu', 'cuda', 'auto'] as const) {
    it(`--device ${device} falls back to the CPU with one log line per failed provider`, async () => {
      const logs: string[] = [];
      await using e = await Embedder.open({ model: fixture('bert-tiny'), device, log: (m) => logs.push(m) });
      assert.equal(e.device, 'cpu');
      const expected = device === 'auto' ? ['cuda', 'webgpu'] : [device];
      assert.equal(logs.length, expected.length, logs.join('\n'));
      expected.forEach((p, i) => {
        assert.match(logs[i], new RegExp(`^device ${device}: ${p} unavailable: .+; falling back to ${i + 1 < expected.length ? expected[i + 1] : 'cpu'}$`));
        assert.ok(!logs[i].includes('\n'));
      });
      const [x] = await e.embedTexts(['he was']);
      assert.equal(x.features.length, 3 * 64);
    });
  }

  it("without the Vulkan check, onnxruntime's own WebGPU failure is caught and logged in one line", { skip: webgpuPrecheck() === null ? 'a Vulkan loader is installed here' : false }, async () => {
    const logs: string[] = [];
    const { session, device } = await openOrtSession(fixture('bert-tiny'), { device: 'webgpu', log: (m) => logs.push(m), precheck: false });
    await session.release();
    assert.equal(device, 'cpu');
    assert.equal(logs.length, 1);
    assert.match(logs[0], /^device webgpu: webgpu unavailable: .*adapter.*; falling back to cpu$/i);
  });

  it('shortReason strips onnxruntime source locations', () => {
    const msg =
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(...)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
    assert.equal(shortReason(new Error(msg)), 'Failed to get a WebGPU adapter: No supported adapters');
  });
});

describe('Embedder overlap', () => {
  it('builds the next batch while the session runs this one, one run in flight, and a failed batch leaves no run behind', async () => {
    await using e = await Embedder.open({ model: fixture('bert-tiny'), device: 'cpu', cacheMiB: 0, batchTokens: 40 });
    const events: string[] = [];
    const run = e.session.run.bind(e.session);
    let inFlight = 0;
    let most = 0;
    let runs = 0;
    (e.session as { run: typeof run }).run = (async (...args: Parameters<typeof run>) => {
      const k = runs++;
      inFlight++;
      most = Math.max(most, inFlight);
      events.push(`run ${k}`);
      await new Promise((r) => setTimeout(r, 20));
      const out = await run(...args);
      events.push(`done ${k}`);
      inFlight--;
      return out;
    }) as typeof run;
    const feeds = e.feeds.bind(e);
    let built = 0;
    (e as { feeds: typeof feeds }).feeds = (rows) => {
      events.push(`feeds ${built++}`);
      return feeds(rows);
    };
    const got = await e.embedTexts(TEXTS);
    assert.equal(got.length, TEXTS.length);
    assert.ok(runs >= 3, `${runs} batches`);
    assert.equal(most, 1);
    // Batch k + 1's feeds exist before batch k's run is done.
    for (let k = 0; k + 1 < runs; k++) assert.ok(events.indexOf(`feeds ${k + 1}`) < events.indexOf(`done ${k}`), events.join(', '));

    // A run that fails: the error comes out, and nothing is left running on the session.
    let failing = true;
    (e.session as { run: typeof run }).run = (async (...args: Parameters<typeof run>) => {
      inFlight++;
      try {
        await new Promise((r) => setTimeout(r, 10));
        if (failing) {
          failing = false;
          throw new Error('device lost');
        }
        return await run(...args);
      } finally {
        inFlight--;
      }
    }) as typeof run;
    await assert.rejects(e.embedTexts(TEXTS.map((t) => t + ' again')), /device lost/);
    assert.equal(inFlight, 0);
  });
});
