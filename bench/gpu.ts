/**
 * The GPU benchmark (issue 7): the embed stage and bare session.run on the CPU (all cores) and on
 * WebGPU (and CUDA when asked), for a MiniLM-shaped BERT (6 x 384) and a base-sized one
 * (12 x 768), random weights, at exactly 128 and 512 tokens per text; the largest difference of the
 * WebGPU features from the CPU's; achieved TFLOP/s and the fraction of the card's fp32 peak.
 *
 *   node dist/bench/gpu.js [--quick] [--out FILE.json] [--models base,minilm] [--lengths 128,512]
 *     [--devices cpu,webgpu] [--threads N] [--cpu-batch-tokens 4096] [--gpu-batch-tokens 16384[,65536]]
 *     [--peak-tflops 67] [--repeats 2] [--deadline-s S] [--peer-dir DIR] [--profile]
 *     [--decoders llama1b] [--decoder-lengths 512] [--attention plain,fused] [--encoder-attention plain,fused]
 *
 * With --decoders, the Llama-shaped decoder rows of bench/gpuDecoder.ts follow the encoders'.
 *
 * It must run where ../shared does not travel (the GPU machine), so everything is generated here,
 * deterministically: texts are windows of real HH-RLHF dialogues from the repository's embedded
 * sample (data/sample), cut on word boundaries to exactly N tokens of a WordPiece tokenizer built
 * from that sample's own words (BERT's normalizer, pre-tokenizer and [CLS] ... [SEP]), so the stage
 * pays a real tokenizer's cost on real text and every text has the stated length.
 *
 * The JSON is rewritten after every row, so a run cut short by a timeout keeps what it measured.
 * With --peer-dir it also writes, for bench/gpu_peer.py, each model's weights (safetensors, Hugging
 * Face BertModel names and layouts), the token ids of every text and the CPU features of the first
 * few, so PyTorch runs the same model on the same inputs and checks that its outputs agree.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tableFromIPC } from 'apache-arrow';
import ort from 'onnxruntime-node';
import * as pw from 'parquet-wasm/node';
import { Embedder } from '../src/runtime/model/Embedder.js';
import { decodeModel } from '../src/runtime/model/onnxBuild.js';
import type { ConcreteDevice } from '../src/runtime/model/openOrtSession.js';
import { dataPath } from '../src/runtime/paths.js';
import { TextTokenizer } from '../src/runtime/model/TextTokenizer.js';
import { encodeSafetensors, type F32Tensor } from '../src/probe/safetensors.js';
import { buildBertModel, type BertShape } from './bertModel.js';
import { decoderRows, DECODERS, type DecoderContext } from './gpuDecoder.js';
import { maxAbsDiff, measure } from './gpuMeasure.js';
import type { AttentionForm } from './llamaModel.js';
import { formatTable, type Row } from './harness.js';

/** Model shapes by name; the vocabulary and positions are set from the tokenizer and lengths. */
export const SHAPES: Record<string, Omit<BertShape, 'vocab' | 'maxPositions'>> = {
  minilm: { layers: 6, width: 384, heads: 12, ffn: 1536 },
  base: { layers: 12, width: 768, heads: 12, ffn: 3072 },
  /** For tests: runs in milliseconds on any CPU. */
  tiny: { layers: 2, width: 64, heads: 4, ffn: 128 },
};

/**
 * Multiply-add FLOPs of one text of T tokens (no padding: every text has exactly T tokens):
 * 2 x (matmul parameters per token) x T, i.e. Q, K, V, output (4w^2) and the FFN (2wf) per layer,
 * plus attention scores and the weighted sum (2 x 2 x T^2 x w per layer). LayerNorm, softmax,
 * GELU and the embeddings are left out (they are not matmul work and are small).
 */
export function flopsPerText(s: { layers: number; width: number; ffn: number }, T: number): number {
  const { layers: L, width: w, ffn: f } = s;
  return L * (2 * T * (4 * w * w + 2 * w * f) + 4 * T * T * w);
}

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];

/** Whitespace-separated words of the embedded HH-RLHF sample, chosen then rejected, row by row. */
export function sampleWords(): string[] {
  const bytes = readFileSync(dataPath('sample', 'hh-rlhf-harmless-test-1k.parquet'));
  const wasmTable = pw.readParquet(new Uint8Array(bytes));
  const table = tableFromIPC(wasmTable.intoIPCStream());
  const chosen = table.getChild('chosen')!;
  const rejected = table.getChild('rejected')!;
  const words: string[] = [];
  for (let i = 0; i < table.numRows; i++) {
    for (const t of [chosen.get(i), rejected.get(i)] as (string | null)[]) if (t) for (const w of t.split(/\s+/)) if (w) words.push(w);
  }
  return words;
}

/**
 * A BERT-uncased-style WordPiece tokenizer.json whose vocabulary is the sample's most frequent
 * pieces (BERT's pre-tokenizer split: runs of non-space non-punctuation, or one punctuation mark),
 * plus every character alone and as "##c", so any word tokenizes (rare words into several pieces,
 * as with a real WordPiece vocabulary). Deterministic: ties in frequency go by code-unit order.
 */
export function buildTokenizerJson(words: readonly string[], vocabSize: number): { tokenizer: object; config: object; vocab: number } {
  const punct = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
  const split = new RegExp(`[^\\s${punct.source.slice(1, -1)}]+|${punct.source}`, 'gu');
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const w of words) {
    for (const p of w.toLowerCase().match(split) ?? []) {
      counts.set(p, (counts.get(p) ?? 0) + 1);
      for (const c of p) chars.add(c);
    }
  }
  const charList = [...chars].sort();
  const vocab: Record<string, number> = {};
  let n = 0;
  const add = (t: string) => {
    if (!Object.hasOwn(vocab, t)) vocab[t] = n++;
  };
  SPECIALS.forEach(add);
  for (const c of charList) add(c);
  for (const c of charList) add('##' + c);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [p] of ranked) {
    if (n >= vocabSize) break;
    add(p);
  }
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const config = { tokenizer_class: 'BertTokenizerFast', unk_token: '[UNK]', pad_token: '[PAD]', cls_token: '[CLS]', sep_token: '[SEP]', do_lower_case: true };
  return { tokenizer, config, vocab: n };
}

/**
 * `count` distinct texts of exactly `T` tokens (special tokens included): word windows of the
 * sample, starting at spread-out offsets, taking whole words while they fit. Checked by encoding.
 */
export function makeTexts(words: readonly string[], tok: TextTokenizer, T: number, count: number): string[] {
  const need = T - tok.prefix.length - tok.suffix.length;
  const perWord = new Map<string, number>();
  const tokensOf = (w: string) => {
    let n = perWord.get(w);
    if (n === undefined) perWord.set(w, (n = tok.countTokens(w)));
    return n;
  };
  const out: string[] = [];
  const seen = new Set<string>();
  // A stride coprime with nothing in particular: windows start far apart and rarely overlap.
  const stride = 7919;
  for (let i = 0, start = 0; out.length < count; i++, start = (start + stride) % words.length) {
    if (i > count * 4) throw new Error(`could not make ${count} distinct texts of ${T} tokens`);
    const picked: string[] = [];
    let have = 0;
    for (let k = 0; have < need && k < words.length; k++) {
      const w = words[(start + k) % words.length];
      const n = tokensOf(w);
      if (n === 0 || have + n > need) continue;
      picked.push(w);
      have += n;
    }
    const text = picked.join(' ');
    if (have !== need || seen.has(text)) continue;
    const got = tok.encode(text, T + 1).ids.length;
    if (got !== T) throw new Error(`text built for ${T} tokens has ${got}`);
    seen.add(text);
    out.push(text);
  }
  return out;
}

/**
 * The model's weights under Hugging Face BertModel's state-dict names, in torch's layouts (Linear
 * weights [out, in], where the ONNX MatMul has [in, out]), for the PyTorch peer.
 */
export function torchStateDict(modelBytes: Uint8Array): Record<string, F32Tensor> {
  const model = decodeModel(modelBytes);
  const out: Record<string, F32Tensor> = {};
  for (const t of model.graph!.initializer ?? []) {
    const name = t.name ?? '';
    if (!/^(embeddings|encoder)\./.test(name)) continue;
    const dims = (t.dims ?? []).map(Number);
    const raw = t.rawData!;
    const data = new Float32Array(raw.byteLength / 4);
    new Uint8Array(data.buffer).set(raw);
    const isLinear = /\.(query|key|value|dense)\.weight$/.test(name);
    if (isLinear) {
      const [rows, cols] = dims;
      const tr = new Float32Array(data.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) tr[c * rows + r] = data[r * cols + c];
      out[name] = { shape: [cols, rows], data: tr };
    } else {
      out[name] = { shape: dims, data };
    }
  }
  return out;
}

export interface GpuBenchOptions {
  quick: boolean;
  out: string | null;
  models: string[];
  lengths: number[];
  devices: ConcreteDevice[];
  threads: number;
  cpuBatchTokens: number;
  gpuBatchTokens: number[];
  cpuRowTokens: number | null;
  gpuRowTokens: number | null;
  peakTflops: number;
  repeats: number;
  deadlineS: number;
  peerDir: string | null;
  profile: boolean;
  vocab: number;
  decoders: string[];
  decoderLengths: number[];
  attention: AttentionForm[];
  /** The encoders' attention forms: as built, and rewritten by fuseAttention (the --fuse-attention flag). */
  encoderForms: AttentionForm[];
}

/** CPUs this process may really use: affinity (availableParallelism) and a cgroup v2 quota. */
function usableCpus(): { cpus: number; available: number; cgroupQuota: number | null } {
  let quota: number | null = null;
  try {
    const [max, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (max !== 'max') quota = Math.max(1, Math.floor(Number(max) / Number(period)));
  } catch {
    // no cgroup v2 limit readable
  }
  return { cpus: cpus().length, available: availableParallelism(), cgroupQuota: quota };
}

function gpuName(): string | null {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

export function parseOptions(argv: readonly string[]): GpuBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      models: { type: 'string', default: 'base,minilm' },
      lengths: { type: 'string', default: '128,512' },
      devices: { type: 'string', default: 'cpu,webgpu' },
      threads: { type: 'string' },
      'cpu-batch-tokens': { type: 'string', default: '4096' },
      'gpu-batch-tokens': { type: 'string', default: '16384' },
      'cpu-row-tokens': { type: 'string' },
      'gpu-row-tokens': { type: 'string' },
      'peak-tflops': { type: 'string', default: '67' },
      repeats: { type: 'string' },
      'deadline-s': { type: 'string' },
      'peer-dir': { type: 'string' },
      profile: { type: 'boolean', default: false },
      vocab: { type: 'string', default: '8192' },
      decoders: { type: 'string', default: '' },
      'decoder-lengths': { type: 'string', default: '512' },
      attention: { type: 'string', default: 'plain,fused' },
      'encoder-attention': { type: 'string', default: 'plain' },
    },
    strict: true,
    allowPositionals: false,
  });
  const int = (v: string | undefined, flag: string, min = 1): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} must be an integer >= ${min} (got ${v})`);
    return n;
  };
  const list = (v: string, flag: string) => v.split(',').filter(Boolean).map((x) => int(x, flag));
  const models = values.models!.split(',').filter(Boolean);
  for (const m of models) if (!SHAPES[m]) throw new Error(`--models: unknown model ${m} (known: ${Object.keys(SHAPES).join(', ')})`);
  const decoders = values.decoders!.split(',').filter(Boolean);
  for (const m of decoders) if (!DECODERS[m]) throw new Error(`--decoders: unknown decoder ${m} (known: ${Object.keys(DECODERS).join(', ')})`);
  const attention = values.attention!.split(',').filter(Boolean) as AttentionForm[];
  for (const a of attention) if (a !== 'plain' && a !== 'fused') throw new Error(`--attention: unknown form ${a} (plain, fused)`);
  const encoderForms = values['encoder-attention']!.split(',').filter(Boolean) as AttentionForm[];
  for (const a of encoderForms) if (a !== 'plain' && a !== 'fused') throw new Error(`--encoder-attention: unknown form ${a} (plain, fused)`);
  const devices = values.devices!.split(',').filter(Boolean) as ConcreteDevice[];
  for (const d of devices) if (!['cpu', 'webgpu', 'cuda'].includes(d)) throw new Error(`--devices: unknown device ${d} (cpu, webgpu, cuda)`);
  if (!devices.includes('cpu')) devices.unshift('cpu'); // the CPU rows are the reference of the differences
  const u = usableCpus();
  const peak = Number(values['peak-tflops']);
  if (!(peak > 0)) throw new Error(`--peak-tflops must be > 0 (got ${values['peak-tflops']})`);
  return {
    quick: values.quick!,
    out: values.out ? resolve(values.out) : null,
    models,
    lengths: list(values.lengths!, 'lengths'),
    devices,
    threads: values.threads !== undefined ? int(values.threads, 'threads') : Math.min(u.cpus, u.available, u.cgroupQuota ?? Infinity),
    cpuBatchTokens: int(values['cpu-batch-tokens'], 'cpu-batch-tokens'),
    gpuBatchTokens: list(values['gpu-batch-tokens']!, 'gpu-batch-tokens'),
    cpuRowTokens: values['cpu-row-tokens'] !== undefined ? int(values['cpu-row-tokens'], 'cpu-row-tokens') : null,
    gpuRowTokens: values['gpu-row-tokens'] !== undefined ? int(values['gpu-row-tokens'], 'gpu-row-tokens') : null,
    peakTflops: peak,
    repeats: values.repeats !== undefined ? int(values.repeats, 'repeats') : values.quick ? 1 : 2,
    deadlineS: values['deadline-s'] !== undefined ? int(values['deadline-s'], 'deadline-s') : Infinity,
    peerDir: values['peer-dir'] ? resolve(values['peer-dir']) : null,
    profile: values.profile!,
    vocab: int(values.vocab, 'vocab', 1000),
    decoders,
    decoderLengths: list(values['decoder-lengths']!, 'decoder-lengths'),
    attention,
    encoderForms,
  };
}

/** Texts per row: a whole number of batches, about `rowTokens` tokens (quick: a few texts). */
function textsPerRow(o: GpuBenchOptions, model: string, device: ConcreteDevice, T: number, budget: number): number {
  const rows = Math.max(1, Math.floor(budget / T));
  if (o.quick) return Math.min(rows, 4);
  const gpu = device !== 'cpu';
  // Sized so the whole default run (both models, both lengths, CPU and WebGPU, 2 repeats) fits in
  // about three minutes of a 16-core H100 machine at the rates ../shared/gpu/README.md measured.
  const rowTokens = gpu ? (o.gpuRowTokens ?? Math.max(16384, budget)) : (o.cpuRowTokens ?? (model === 'minilm' ? 32768 : 8192));
  return rows * Math.max(1, Math.floor(rowTokens / (rows * T)));
}

/** Can this device open a session here? Tried once with the tiny model; null when it can. */
async function deviceProbe(device: ConcreteDevice, modelPath: string, threads: number): Promise<string | null> {
  if (device === 'cpu') return null;
  const logged: string[] = [];
  try {
    const e = await Embedder.open({ model: modelPath, device, intraOpThreads: threads, cacheMiB: 0, log: (m) => logged.push(m) });
    const got = e.device;
    await e.close();
    if (got === device) return null;
    // "device webgpu: webgpu unavailable: <reason>; falling back to cpu" -> "<reason>"
    return logged.map((m) => m.replace(/^device \w+: \w+ unavailable: /, '').replace(/; falling back to \w+$/, '')).join('; ') || `opened on ${got}`;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/**
 * One profiled run of the untapped model on the device (onnxruntime's own profiler): time per
 * operator type and which provider each node ran on, to see what bounds the GPU path.
 */
async function profileRun(modelPath: string, device: ConcreteDevice, threads: number, T: number, rows: number, vocab: number, dir: string): Promise<Record<string, unknown>> {
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: [device === 'cpu' ? 'cpu' : { name: device }] as ort.InferenceSession.ExecutionProviderConfig[],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    enableProfiling: true,
    profileFilePrefix: join(dir, `profile-${device}`),
  });
  try {
    const n = rows * T;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(4 + ((i * 7919) % (vocab - 4)));
    const feeds = {
      input_ids: new ort.Tensor('int64', ids, [rows, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [rows, T]),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(n), [rows, T]),
    };
    await session.run(feeds); // warm-up, then the profiled run is the last one
    const t0 = performance.now();
    await session.run(feeds);
    const runSeconds = (performance.now() - t0) / 1000;
    session.endProfiling();
    // onnxruntime-node does not return the file name: it is {prefix}_{timestamp}.json.
    const prefix = `profile-${device}_`;
    const file = readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.json')).sort().map((f) => join(dir, f)).pop();
    if (!file) throw new Error(`no profile file ${prefix}*.json in ${dir}`);
    const events = JSON.parse(readFileSync(resolve(file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; provider?: string } }[];
    // Only the last run's node events: those after the last "model_run" start minus its duration.
    const runs = events.filter((ev) => ev.cat === 'Session' && ev.name === 'model_run');
    const lastRun = runs[runs.length - 1] as unknown as { ts: number; dur: number } | undefined;
    const inLast = events.filter((ev) => ev.cat === 'Node' && ev.name.endsWith('_kernel_time') && (!lastRun || ((ev as unknown as { ts: number }).ts >= lastRun.ts && (ev as unknown as { ts: number }).ts <= lastRun.ts + lastRun.dur)));
    const byOp = new Map<string, { us: number; count: number; providers: Set<string> }>();
    const byProvider = new Map<string, { us: number; count: number }>();
    for (const ev of inLast) {
      const op = ev.args?.op_name ?? '?';
      const prov = ev.args?.provider ?? '?';
      const o = byOp.get(op) ?? { us: 0, count: 0, providers: new Set() };
      o.us += ev.dur;
      o.count += 1;
      o.providers.add(prov);
      byOp.set(op, o);
      const p = byProvider.get(prov) ?? { us: 0, count: 0 };
      p.us += ev.dur;
      p.count += 1;
      byProvider.set(prov, p);
    }
    return {
      device,
      tokens: T,
      rows,
      run_s: runSeconds,
      model_run_us: lastRun?.dur ?? null,
      note: 'node times are host-side: for a GPU provider they measure dispatch, not kernel execution, unless the provider reports its own timings',
      by_provider: Object.fromEntries([...byProvider].map(([k, v]) => [k, v])),
      top_ops: [...byOp]
        .sort((a, b) => b[1].us - a[1].us)
        .slice(0, 15)
        .map(([op, v]) => ({ op, us: v.us, count: v.count, providers: [...v.providers].join('+') })),
      profile_file: file,
    };
  } finally {
    await session.release();
  }
}

export async function runGpuBench(o: GpuBenchOptions, log: (m: string) => void = (m) => process.stderr.write(m + '\n')): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const u = usableCpus();
  const gpu = gpuName();
  const maxLen = Math.max(...o.lengths);
  const rows: Row[] = [];
  const result: Record<string, unknown> = {
    name: 'gpu',
    date: new Date().toISOString(),
    node: process.version,
    onnxruntime: (ort.env as { versions?: { common?: string } }).versions?.common ?? null,
    machine: { cpus: u.cpus, available_parallelism: u.available, cgroup_cpu_quota: u.cgroupQuota, cpu_model: cpus()[0]?.model ?? null, memory_gib: Math.round(totalmem() / 2 ** 30), gpu },
    options: { ...o, deadlineS: Number.isFinite(o.deadlineS) ? o.deadlineS : null },
    devices: {} as Record<string, string>,
    rows,
    profiles: [] as unknown[],
    goal: null as unknown,
  };
  const save = () => {
    if (!o.out) return;
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
  };
  log(`gpu bench: ${u.cpus} cpus (usable ${Math.min(u.available, u.cgroupQuota ?? Infinity)}), ${o.threads} intra-op threads; gpu: ${gpu ?? 'none found (nvidia-smi)'}`);

  const work = mkdtempSync(join(tmpdir(), 'prefrank-gpu-'));
  try {
    // Tokenizer and texts: built once, shared by every model (the models take its vocabulary).
    const words = sampleWords();
    const { tokenizer, config, vocab } = buildTokenizerJson(words, o.vocab);
    const tokPath = join(work, 'tokenizer.json');
    writeFileSync(tokPath, JSON.stringify(tokenizer));
    writeFileSync(join(work, 'tokenizer_config.json'), JSON.stringify({ ...config, model_max_length: maxLen }));
    const tok = TextTokenizer.load({ path: tokPath });
    log(`tokenizer: WordPiece, ${vocab} entries from ${words.length} words of data/sample (${elapsed().toFixed(1)} s)`);

    // Which accelerators open at all: probed once on the tiny model, so an absent provider costs nothing per row.
    const tinyPath = join(work, 'tiny.onnx');
    writeFileSync(tinyPath, buildBertModel({ ...SHAPES.tiny, vocab, maxPositions: maxLen }).bytes);
    const devices = result.devices as Record<string, string>;
    for (const d of o.devices) {
      const reason = await deviceProbe(d, tinyPath, o.threads);
      devices[d] = reason === null ? 'available' : `unavailable: ${reason}`;
      log(`device ${d}: ${devices[d]}`);
    }
    save();

    const peer: Record<string, unknown> = { models: {}, cases: [] as unknown[] };
    // Rewritten after each CPU row, so a run cut short still leaves the peer what was finished.
    const savePeer = () => {
      if (o.peerDir) writeFileSync(join(o.peerDir, 'inputs.json'), JSON.stringify({ ...peer, batch_tokens: o.gpuBatchTokens, peak_tflops: o.peakTflops }));
    };
    const profileTargets: { name: string; modelPath: string }[] = [];
    for (const name of o.models) {
      const shape: BertShape = { ...SHAPES[name], vocab, maxPositions: maxLen };
      const tb = performance.now();
      const { bytes } = buildBertModel(shape);
      const modelPath = join(work, `${name}.onnx`);
      writeFileSync(modelPath, bytes);
      log(`model ${name}: ${shape.layers} layers x ${shape.width}, ${(bytes.length / 2 ** 20).toFixed(0)} MiB, built in ${((performance.now() - tb) / 1000).toFixed(1)} s`);
      if (o.peerDir) {
        mkdirSync(o.peerDir, { recursive: true });
        writeFileSync(join(o.peerDir, `${name}.safetensors`), encodeSafetensors(torchStateDict(bytes)));
        (peer.models as Record<string, unknown>)[name] = {
          weights: `${name}.safetensors`,
          config: { vocab_size: vocab, hidden_size: shape.width, num_hidden_layers: shape.layers, num_attention_heads: shape.heads, intermediate_size: shape.ffn, max_position_embeddings: maxLen, type_vocab_size: 2, layer_norm_eps: 1e-12, hidden_act: 'gelu' },
        };
      }
      const cpuFeatures = new Map<number, Float32Array[]>();
      const textCache = new Map<number, string[]>();
      const textsFor = (T: number, n: number) => {
        const have = textCache.get(T) ?? [];
        if (have.length < n) {
          const made = makeTexts(words, tok, T, n);
          textCache.set(T, made);
          return made;
        }
        return have.slice(0, n);
      };

      // Each attention form of the same model; the CPU rows of each are the reference of its accelerator rows.
      for (const form of o.encoderForms) {
        cpuFeatures.clear();
        for (const device of o.devices) {
          const budgets = device === 'cpu' ? [o.cpuBatchTokens] : o.gpuBatchTokens;
          for (const budget of budgets) {
            const base = { model: name, attention: form, layers: shape.layers, width: shape.width, device, threads: o.threads, batch_tokens: budget };
            if (devices[device] !== 'available') {
              for (const T of o.lengths) rows.push({ ...base, tokens_per_text: T, status: devices[device] });
              save();
              continue;
            }
            if (elapsed() > o.deadlineS) {
              for (const T of o.lengths) rows.push({ ...base, tokens_per_text: T, status: `skipped: past the ${o.deadlineS} s deadline` });
              save();
              continue;
            }
            let e: Embedder;
            const to = performance.now();
            try {
              const logged: string[] = [];
              e = await Embedder.open({ model: modelPath, tokenizer: tokPath, device, intraOpThreads: o.threads, batchTokens: budget, maxTokens: maxLen, cacheMiB: 0, fuseAttention: form === 'fused', log: (m) => logged.push(m) });
              if (e.device !== device) {
                await e.close();
                throw new Error(logged.join('; ') || `opened on ${e.device}`);
              }
            } catch (err) {
              for (const T of o.lengths) rows.push({ ...base, tokens_per_text: T, status: `error: ${(err as Error).message.split('\n')[0]}` });
              save();
              continue;
            }
            const openSeconds = (performance.now() - to) / 1000;
            log(`  ${name} on ${device} (batch budget ${budget} tokens): session open in ${openSeconds.toFixed(1)} s`);
            try {
              for (const T of o.lengths) {
                const row: Row = { ...base, tokens_per_text: T };
                if (elapsed() > o.deadlineS) {
                  rows.push({ ...row, status: `skipped: past the ${o.deadlineS} s deadline` });
                  save();
                  continue;
                }
                const n = textsPerRow(o, name, device, T, budget);
                try {
                  const texts = textsFor(T, n);
                  const m = await measure(e, texts, budget, o.repeats, !o.quick);
                  const flop = flopsPerText(shape, T);
                  const stageTps = n / m.stageSeconds;
                  const bareTps = n / m.bareSeconds;
                  Object.assign(row, {
                    status: 'ok',
                    texts: n,
                    rows_per_batch: Math.max(1, Math.floor(budget / T)),
                    batches: m.batches,
                    open_s: openSeconds,
                    warmup_s: m.warmupSeconds,
                    stage_s: m.stageSeconds,
                    stage_texts_per_s: stageTps,
                    stage_tokens_per_s: stageTps * T,
                    bare_s: m.bareSeconds,
                    bare_texts_per_s: bareTps,
                    bare_tokens_per_s: bareTps * T,
                    stage_over_bare: m.stageSeconds / m.bareSeconds,
                    gflop_per_text: flop / 1e9,
                    stage_tflops: (flop * stageTps) / 1e12,
                    bare_tflops: (flop * bareTps) / 1e12,
                    // The card's fp32 rate is the yardstick of the GPU rows only.
                    frac_peak_stage: device === 'cpu' ? null : (flop * stageTps) / (o.peakTflops * 1e12),
                    frac_peak_bare: device === 'cpu' ? null : (flop * bareTps) / (o.peakTflops * 1e12),
                  });
                  if (device === 'cpu') {
                    cpuFeatures.set(T, m.features);
                    // One peer case per (model, length): the forms run the same texts.
                    if (o.peerDir && form === o.encoderForms[0]) {
                      const k = Math.min(8, m.features.length);
                      (peer.cases as unknown[]).push({
                        model: name,
                        tokens: T,
                        // The peer runs the GPU rows' texts; the CPU ones are their prefix.
                        ids: textsFor(T, Math.max(n, textsPerRow(o, name, o.devices.find((d) => d !== 'cpu') ?? 'webgpu', T, Math.max(...o.gpuBatchTokens)))).map((t) => Array.from(tok.encode(t, maxLen).ids)),
                        reference: { texts: k, layers: shape.layers, width: shape.width, features: m.features.slice(0, k).map((f) => Array.from(f)) },
                      });
                      savePeer();
                    }
                  } else {
                    const ref = cpuFeatures.get(T);
                    const cpuRow = rows.find((r) => r.model === name && r.attention === form && r.device === 'cpu' && r.tokens_per_text === T && r.status === 'ok');
                    row.max_abs_diff_vs_cpu = ref ? maxAbsDiff(m.features, ref) : null;
                    row.diff_texts = ref ? Math.min(ref.length, m.features.length) : 0;
                    row.stage_speedup_vs_cpu = cpuRow ? stageTps / (cpuRow.stage_texts_per_s as number) : null;
                    row.bare_speedup_vs_cpu = cpuRow ? bareTps / (cpuRow.bare_texts_per_s as number) : null;
                  }
                  log(`  ${name} ${T} tokens on ${device}: ${stageTps.toFixed(1)} texts/s stage, ${bareTps.toFixed(1)} bare (${n} texts, ${elapsed().toFixed(0)} s elapsed)`);
                } catch (err) {
                  row.status = `error: ${(err as Error).message.split('\n')[0]}`;
                  log(`  ${name} ${T} tokens on ${device}: ${row.status}`);
                }
                rows.push(row);
                save();
              }
            } finally {
              await e.close();
            }
          }
        }
      }
      profileTargets.push({ name, modelPath });
    }
    if (o.decoders.length) {
      const texts = new Map<number, string[]>();
      await decoderRows({
        decoders: o.decoders, forms: o.attention, lengths: o.decoderLengths, devices: o.devices, available: devices, threads: o.threads,
        cpuBatchTokens: o.cpuBatchTokens, gpuBatchTokens: o.gpuBatchTokens, repeats: o.repeats, quick: o.quick, deadlineS: o.deadlineS, elapsed,
        work, peerDir: o.peerDir, tokenizer: { json: tokPath, config: config as Record<string, unknown> }, tok, vocab, rows, save, log, peer: peer as DecoderContext['peer'], savePeer,
        texts: (T, n) => {
          if ((texts.get(T)?.length ?? 0) < n) texts.set(T, makeTexts(words, tok, T, n));
          return texts.get(T)!.slice(0, n);
        },
      });
    }
    if (o.profile) {
      // Last, so that a provider that crashes under the profiler cannot cost any measured row.
      // Profiled where the goal is set: the longest texts, on each available accelerator (the
      // CPU where there is none, as on CPU-only machines, so the path is exercised there too).
      const accel = o.devices.filter((x) => x !== 'cpu' && devices[x] === 'available');
      for (const { name, modelPath } of profileTargets) {
        for (const d of accel.length ? accel : (['cpu'] as ConcreteDevice[])) {
          if (elapsed() > o.deadlineS) break;
          try {
            const p = await profileRun(modelPath, d, o.threads, maxLen, Math.max(1, Math.floor(Math.max(...o.gpuBatchTokens) / maxLen)), vocab, o.out ? dirname(o.out) : work);
            (result.profiles as unknown[]).push({ model: name, ...p });
            log(`  profiled ${name} on ${d}`);
          } catch (err) {
            (result.profiles as unknown[]).push({ model: name, device: d, error: (err as Error).message.split('\n')[0] });
          }
          save();
        }
      }
    }
    // The goal: WebGPU at least 10x the CPU on the 12 x 768 model at 512 tokens.
    // The fastest form of the goal's row.
    const goalRow = rows
      .filter((r) => r.model === 'base' && r.device === 'webgpu' && r.tokens_per_text === 512 && r.status === 'ok')
      .sort((a, b) => (b.stage_texts_per_s as number) - (a.stage_texts_per_s as number))[0];
    result.goal = goalRow
      ? { stage_speedup_vs_cpu: goalRow.stage_speedup_vs_cpu, bare_speedup_vs_cpu: goalRow.bare_speedup_vs_cpu, met: (goalRow.stage_speedup_vs_cpu as number) >= 10 }
      : 'not measured (needs base, 512 tokens, webgpu available)';
    result.total_s = elapsed();
    save();
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Column subset for the printed table (the JSON has everything). */
export function summaryRows(rows: readonly Row[]): Row[] {
  const keep = ['model', 'attention', 'tokens_per_text', 'device', 'batch_tokens', 'texts', 'stage_texts_per_s', 'stage_tokens_per_s', 'bare_texts_per_s', 'stage_over_bare', 'stage_tflops', 'frac_peak_stage', 'stage_speedup_vs_cpu', 'max_abs_diff_vs_cpu', 'status'];
  return rows.map((r) => Object.fromEntries(keep.filter((k) => k in r).map((k) => [k, typeof r[k] === 'string' && (r[k] as string).length > 60 ? (r[k] as string).slice(0, 60) + '...' : r[k]])));
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const result = await runGpuBench(o);
  process.stdout.write(formatTable(summaryRows(result.rows as Row[])) + '\n');
  process.stdout.write(`goal (webgpu >= 10x cpu, base 512 tokens): ${JSON.stringify(result.goal)}\n`);
  if (o.out) process.stderr.write(`wrote ${o.out}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`gpu bench failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
