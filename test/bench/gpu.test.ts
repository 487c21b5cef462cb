import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildTokenizerJson, flopsPerText, makeTexts, parseOptions, sampleWords, SHAPES, torchStateDict } from '../../bench/gpu.js';
import { buildBertModel } from '../../bench/bertModel.js';
import { decoderFlopsPerText, DECODERS } from '../../bench/gpuDecoder.js';
import { projectRoot } from '../../src/runtime/paths.js';
import { TextTokenizer } from '../../src/runtime/model/TextTokenizer.js';

const dir = mkdtempSync(join(tmpdir(), 'prefrank-gpu-test-'));
const out = join(dir, 'gpu.json');
const peerDir = join(dir, 'peer');
type Row = Record<string, unknown>;
let doc: { devices: Record<string, string>; rows: Row[]; profiles: Row[]; goal: unknown };
let stderr = '';

// One real run of the script, as a GPU session would start it, on the tiny model: a few seconds.
before(() => {
  const r = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'bench', 'gpu.js'), '--quick', '--models', 'tiny', '--encoder-attention', 'plain,fused', '--decoders', 'llamatiny', '--decoder-lengths', '128', '--out', out, '--peer-dir', peerDir, '--profile'], { encoding: 'utf8', timeout: 60_000 });
  stderr = r.stderr;
  assert.equal(r.status, 0, `gpu.js failed: ${r.stderr}`);
  doc = JSON.parse(readFileSync(out, 'utf8'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('CPU rows: both lengths measured, stage and bare rates, FLOP/s consistent with the shape', () => {
  for (const T of [128, 512]) {
    const r = doc.rows.find((x) => x.device === 'cpu' && x.tokens_per_text === T)!;
    assert.ok(r, `no cpu row at ${T} tokens`);
    assert.equal(r.status, 'ok');
    assert.equal(r.model, 'tiny');
    assert.ok((r.texts as number) >= 1);
    for (const k of ['stage_texts_per_s', 'bare_texts_per_s', 'stage_tokens_per_s', 'stage_tflops']) assert.ok(Number.isFinite(r[k]) && (r[k] as number) > 0, `${k} = ${r[k]}`);
    assert.equal(r.stage_tokens_per_s, (r.stage_texts_per_s as number) * T);
    assert.ok(Math.abs((r.gflop_per_text as number) * 1e9 - flopsPerText(SHAPES.tiny, T)) < 1);
    assert.equal(r.frac_peak_stage, null, 'the card peak is no yardstick for CPU rows');
    assert.ok((r.threads as number) >= 1);
  }
});

test('WebGPU rows: measured and within 1e-3 of the CPU where it opens, else a clean one-line "unavailable"', () => {
  const rows = doc.rows.filter((x) => x.device === 'webgpu' && x.model === 'tiny');
  assert.equal(rows.length, 4); // two lengths, two attention forms
  if (doc.devices.webgpu === 'available') {
    for (const r of rows) {
      assert.equal(r.status, 'ok');
      assert.ok((r.max_abs_diff_vs_cpu as number) <= 1e-3, `max diff ${r.max_abs_diff_vs_cpu}`);
    }
  } else {
    for (const r of rows) {
      const s = r.status as string;
      assert.match(s, /^unavailable: \S/);
      assert.ok(!s.includes('\n') && !/falling back/.test(s) && !/unavailable: .*unavailable:/.test(s), s);
      assert.equal(r.stage_texts_per_s, undefined);
    }
    assert.equal(doc.goal, 'not measured (needs base, 512 tokens, webgpu available)');
  }
  assert.match(stderr, /device webgpu: /);
});

test('profile: per-operator times and providers of one run', () => {
  const p = doc.profiles[0] as { top_ops: { op: string; us: number; providers: string }[]; by_provider: Record<string, unknown>; error?: string };
  assert.ok(p && !p.error, JSON.stringify(p));
  assert.ok(p.top_ops.length > 0 && p.top_ops.some((o) => o.op === 'MatMul' || o.op === 'FusedMatMul'));
  assert.ok(Object.keys(p.by_provider).length >= 1);
});

test('texts: real sample words, exactly N tokens each, distinct, the same on every call', () => {
  const words = sampleWords();
  const a = buildTokenizerJson(words, 4096);
  const b = buildTokenizerJson(words, 4096);
  assert.equal(JSON.stringify(a.tokenizer), JSON.stringify(b.tokenizer));
  assert.equal(a.vocab, 4096);
  const tdir = join(dir, 'tok');
  mkdirSync(tdir, { recursive: true });
  writeFileSync(join(tdir, 'tokenizer.json'), JSON.stringify(a.tokenizer));
  writeFileSync(join(tdir, 'tokenizer_config.json'), JSON.stringify(a.config));
  const tok = TextTokenizer.load({ path: join(tdir, 'tokenizer.json') });
  assert.deepEqual([tok.prefix.length, tok.suffix.length], [1, 1], '[CLS] ... [SEP]');
  for (const T of [16, 128]) {
    const texts = makeTexts(words, tok, T, 20);
    assert.equal(new Set(texts).size, 20);
    for (const t of texts) assert.equal(tok.encode(t, 10_000).ids.length, T);
    assert.deepEqual(makeTexts(words, tok, T, 5), texts.slice(0, 5), 'a shorter run is a prefix');
    assert.ok(texts.some((t) => /\b(Human|Assistant):/.test(t)), 'windows of the HH-RLHF dialogues');
  }
});

test('flopsPerText: 2 x matmul parameters per token x T, plus attention', () => {
  // One layer, width 2, FFN 4, 3 tokens: 2*3*(4*4 + 2*2*4) + 4*9*2 = 192 + 72
  assert.equal(flopsPerText({ layers: 1, width: 2, ffn: 4 }, 3), 264);
  // base at 512 tokens: about 97 GFLOP, the figure the fraction of peak rests on
  assert.ok(Math.abs(flopsPerText(SHAPES.base, 512) / 1e9 - 96.6) < 0.1);
});

test('torchStateDict: Hugging Face names, Linear weights transposed to [out, in]', () => {
  const shape = { ...SHAPES.tiny, ffn: 96, vocab: 50, maxPositions: 16 };
  const sd = torchStateDict(buildBertModel(shape).bytes);
  assert.deepEqual(sd['encoder.layer.0.intermediate.dense.weight'].shape, [96, 64]);
  assert.deepEqual(sd['encoder.layer.1.output.dense.weight'].shape, [64, 96]);
  assert.deepEqual(sd['embeddings.word_embeddings.weight'].shape, [50, 64]);
  assert.ok(sd['encoder.layer.1.output.LayerNorm.bias']);
  assert.equal(Object.keys(sd).length, 5 + 2 * 16);
});

test('peer inputs: the token ids and CPU features; a NumPy BERT forward on them agrees with prefrank', (t) => {
  const inputs = JSON.parse(readFileSync(join(peerDir, 'inputs.json'), 'utf8'));
  assert.deepEqual(inputs.cases.map((c: { tokens: number }) => c.tokens), [128, 512]);
  for (const c of inputs.cases) assert.ok(c.ids.every((x: number[]) => x.length === c.tokens));
  const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  if (!hasNumpy) {
    t.skip('python3 with numpy not found');
    return;
  }
  // Checks the exported weights, their layout and the layer mapping that the PyTorch peer relies on.
  const res = execFileSync('python3', [join(projectRoot(), 'bench', 'gpu_peer.py'), '--dir', peerDir, '--numpy-check', '--out', join(dir, 'np.json')], { encoding: 'utf8' });
  const rows = JSON.parse(readFileSync(join(dir, 'np.json'), 'utf8')).rows as { model: string; max_abs_diff_numpy_vs_prefrank_cpu?: number; max_rel_diff_numpy_vs_prefrank_cpu?: number }[];
  assert.deepEqual(rows.map((r) => r.model), ['tiny', 'tiny', 'llamatiny-plain', 'llamatiny-fused'], res);
  for (const r of rows.slice(0, 2)) assert.ok(r.max_abs_diff_numpy_vs_prefrank_cpu! < 1e-4, res);
  // The decoders' weights read through their index in model.onnx.data, in transformers' names and
  // layouts (what LlamaForCausalLM loads), against prefrank's float16 features.
  for (const r of rows.slice(2)) assert.ok(r.max_rel_diff_numpy_vs_prefrank_cpu! < 1e-2, res);
});

test('encoder rows in both attention forms: the rewritten model is measured beside the built one (their agreement: test/runtime/fuseAttention.test.ts)', () => {
  for (const T of [128, 512]) {
    const [plain, fused] = ['plain', 'fused'].map((a) => doc.rows.find((x) => x.model === 'tiny' && x.device === 'cpu' && x.tokens_per_text === T && x.attention === a)!);
    assert.equal(plain?.status, 'ok');
    assert.equal(fused?.status, 'ok');
  }
  assert.match(stderr, /tiny 512 tokens on cpu/);
});

test('decoder rows: both attention forms of the Llama-shaped model, float16, timed on the CPU with FLOPs from the shape; accelerators measured or a clean line', () => {
  for (const form of ['plain', 'fused']) {
    const rows = doc.rows.filter((x) => x.model === `llamatiny-${form}`);
    const cpu = rows.find((x) => x.device === 'cpu')!;
    assert.equal(cpu.status, 'ok', JSON.stringify(cpu));
    assert.equal(cpu.dtype, 'float16');
    assert.ok((cpu.stage_texts_per_s as number) > 0 && (cpu.bare_texts_per_s as number) > 0);
    assert.ok(Math.abs((cpu.gflop_per_text as number) * 1e9 - decoderFlopsPerText(DECODERS.llamatiny, 128)) < 1);
    for (const r of rows.filter((x) => x.device !== 'cpu')) {
      if (r.status === 'ok') assert.ok((r.max_rel_diff_vs_cpu as number) <= 1e-2, JSON.stringify(r));
      else assert.match(r.status as string, /^unavailable: [^\n]+$/);
    }
  }
});

test('options: defaults for the GPU run, bad values refused', () => {
  const o = parseOptions([]);
  assert.deepEqual(o.models, ['base', 'minilm']);
  assert.deepEqual(o.lengths, [128, 512]);
  assert.deepEqual(o.devices, ['cpu', 'webgpu']);
  assert.equal(o.peakTflops, 67);
  assert.deepEqual(o.gpuBatchTokens, [16384]);
  assert.ok(o.threads >= 1);
  assert.deepEqual(parseOptions(['--devices', 'webgpu']).devices, ['cpu', 'webgpu'], 'the CPU is always the reference');
  assert.throws(() => parseOptions(['--models', 'huge']), /unknown model huge/);
  assert.throws(() => parseOptions(['--lengths', '0']), /--lengths/);
  assert.throws(() => parseOptions(['--devices', 'tpu']), /unknown device tpu/);
  assert.throws(() => parseOptions(['--peak-tflops', '-1']), /--peak-tflops/);
});
