/**
 * The embed runtime: one ONNX session (with the layer tap applied) and one tokenizer, opened once
 * per process and reused. `embed` turns texts, or (prompt, response) pairs through the template,
 * into the last real token's hidden state at each selected layer.
 *
 * This file orchestrates; the parts live beside it: the tokenizer (TextTokenizer.ts), the layer tap
 * (layerTap.ts), the session (openOrtSession.ts), feeds and outputs (feeds.ts), length batching
 * (batching.ts) and the per-run cache (embedCache.ts). Inside one `embed` call: texts are tokenized
 * (truncation keeps the end), looked up in the cache, and the rest are run in length batches.
 *
 * A model may read more than one token stream (TOKEN_STREAMS_KEY in onnxBuild.ts; the default
 * model reads GloVe's words beside USE's pieces): each text is then also rendered and tokenized by
 * each stream's tokenizer (S/tokenizer.json beside model.onnx, with its own template), fed as
 * `S.input_ids` and `S.attention_mask`, and part of the cache key. Flags such as --template,
 * --max-tokens and the counts in EmbedInfo are the main stream's.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import type { Embedding } from '../../../schemas/records.js';
import { asUsageError, UserError } from '../errors.js';
import { bucketByTokens } from './batching.js';
import { EmbedCache, tokenKey } from './embedCache.js';
import { buildFeeds, classifyInputs, featureRows, streamOf, type InputSpec } from './feeds.js';
import { fuseAttention } from './fuseAttention.js';
import { applyLayerTap, modelSignature, type TapKind } from './layerTap.js';
import { decodeModel, encodeModelProto, modelMetadata, tokenStreams, type ValueInfoProto } from './onnxBuild.js';
import { openOrtSession, type ConcreteDevice, type Device } from './openOrtSession.js';
import { TextTokenizer } from './TextTokenizer.js';

export interface EmbedderOptions {
  /** Path of model.onnx. */
  readonly model: string;
  /** Path of tokenizer.json (default: tokenizer.json beside the model). */
  readonly tokenizer?: string;
  readonly device?: Device;
  /** onnxruntime intra-op threads (0 = one per core). */
  readonly intraOpThreads?: number;
  /** onnxruntime inter-op threads (0 = default). */
  readonly interOpThreads?: number;
  /** Layers to read (0-based; negative counts from the end); null or absent = all. */
  readonly layers?: readonly number[] | null;
  /** Joins prompt and response, e.g. "input:{prompt}output:{response}". */
  readonly template?: string;
  /** Use the tokenizer's chat template instead of `template`. */
  readonly chatTemplate?: boolean;
  /** Longest input in tokens; longer texts lose their start. Default 512, or the tokenizer's limit when smaller. */
  readonly maxTokens?: number;
  /** Token budget of one batch: rows x padded length. Default 4096. */
  readonly batchTokens?: number;
  /** Embedding cache size in MiB (0 = off). Default 256. */
  readonly cacheMiB?: number;
  /** Where padding goes. Default right; both give the same features (tests check it). */
  readonly paddingSide?: 'left' | 'right';
  /** Rewrite the model's unfused attention into onnxruntime's MultiHeadAttention (fuseAttention.ts). Default off. */
  readonly fuseAttention?: boolean;
  /** Log sink for one-line notices (device fallback). The CLI passes its stderr logger. */
  readonly log?: (message: string) => void;
}

export type EmbedInput = string | { readonly prompt: string; readonly response: string };

/** What one `embed` call did, for the caller's stats. */
export interface EmbedInfo {
  texts: number;
  /** Real tokens of all texts (cached ones included). */
  tokens: number;
  /** Texts actually run through the model (after cache and duplicates). */
  computed: number;
  /** Real tokens run through the model. */
  computedTokens: number;
  /** rows x padded length summed over batches: padding waste = 1 - computedTokens / paddedSlots. */
  paddedSlots: number;
  batches: number;
  truncated: number;
  /** Texts served from the cache or from an identical text earlier in the same call. */
  cacheHits: number;
  /** Texts with no tokens at all (null in `embeddings`). */
  empty: number;
}

export interface EmbedOutput {
  /** One per input, in order; null when the text has no tokens. */
  readonly embeddings: (Embedding | null)[];
  readonly info: EmbedInfo;
}

interface Pending {
  readonly ids: Int32Array;
  /** The text's ids in each extra token stream, in the model's order. */
  readonly streams: readonly Int32Array[];
  readonly key: string;
}

/** An extra token stream: its name (the inputs' prefix) and its tokenizer. */
interface TokenStream {
  readonly name: string;
  readonly tokenizer: TextTokenizer;
  readonly maxTokens: number;
}

const DEFAULTS = { maxTokens: 512, batchTokens: 4096, cacheMiB: 256 };

type NumericOptions = Pick<EmbedderOptions, 'maxTokens' | 'batchTokens' | 'intraOpThreads' | 'interOpThreads' | 'cacheMiB'>;

/**
 * The one check of the numeric options, for Embedder.open and the CLI's flags alike (the CLI runs
 * it first, so a bad flag is a usage line before any model is built). RangeErrors name the flags.
 */
export function checkEmbedderOptions(o: NumericOptions): void {
  const int = (v: number | undefined, flag: string, min: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new RangeError(`${flag} must be an integer >= ${min}, got ${v}`);
  };
  int(o.maxTokens, '--max-tokens', 1);
  int(o.batchTokens, '--batch-tokens', 1);
  int(o.intraOpThreads, '--threads', 0);
  int(o.interOpThreads, '--inter-op-threads', 0);
  if (o.cacheMiB !== undefined && !(Number.isFinite(o.cacheMiB) && o.cacheMiB >= 0)) throw new RangeError(`--cache-size must be a number of MiB >= 0, got ${o.cacheMiB}`);
}

/** What an Embedder is made of, once its model is opened and tapped. */
interface EmbedderInit {
  readonly modelSha256: string;
  readonly tokenizer: TextTokenizer;
  readonly streams: readonly TokenStream[];
  readonly layers: readonly number[];
  readonly numLayers: number;
  readonly width: number;
  readonly maxTokens: number;
  readonly batchTokens: number;
  readonly cacheMiB: number;
  readonly device: ConcreteDevice;
  readonly tapKind: TapKind;
}

export class Embedder {
  /** sha256 of the model file's bytes (the manifest records it). */
  readonly modelSha256: string;
  /** sha256 of tokenizer.json's bytes; with extra token streams, of theirs and their templates too. */
  readonly tokenizerSha256: string;
  /** Selected layer indices (0-based, ascending). */
  readonly layers: readonly number[];
  /** Layers the model has. */
  readonly numLayers: number;
  readonly width: number;
  /** The template (or "chat-template"). */
  readonly template: string;
  readonly maxTokens: number;
  readonly batchTokens: number;
  /** The device the session actually runs on. */
  readonly device: ConcreteDevice;
  /** How the layers were found: tapped layer ends, hidden_states outputs, a pooled output, last_hidden_state. */
  readonly tapKind: TapKind;
  readonly tokenizer: TextTokenizer;
  /** Extra token streams the model reads (empty for most models). */
  readonly streams: readonly TokenStream[];

  private readonly cache: EmbedCache;
  private closed = false;

  private constructor(
    /** The onnxruntime session (of the tapped model); benches compare the stage with a bare run. */
    readonly session: ort.InferenceSession,
    private readonly inputs: readonly InputSpec[],
    private readonly outputNames: readonly string[],
    private readonly paddingSide: 'left' | 'right',
    init: EmbedderInit,
  ) {
    this.modelSha256 = init.modelSha256;
    this.tokenizer = init.tokenizer;
    this.streams = init.streams;
    this.tokenizerSha256 = init.streams.length
      ? createHash('sha256')
          .update([init.tokenizer.sha256, ...init.streams.map((t) => `${t.name} ${t.tokenizer.sha256} ${t.tokenizer.template}`)].join('\n'))
          .digest('hex')
      : init.tokenizer.sha256;
    this.template = init.tokenizer.template;
    this.layers = init.layers;
    this.numLayers = init.numLayers;
    this.width = init.width;
    this.maxTokens = init.maxTokens;
    this.batchTokens = init.batchTokens;
    this.device = init.device;
    this.tapKind = init.tapKind;
    this.cache = new EmbedCache(init.cacheMiB * 2 ** 20);
  }

  static async open(options: EmbedderOptions): Promise<Embedder> {
    const log = options.log ?? (() => {});
    const modelPath = resolve(options.model);
    asUsageError(() => checkEmbedderOptions(options));

    let bytes: Buffer;
    try {
      bytes = readFileSync(modelPath);
    } catch (err) {
      throw new UserError(`cannot read model ${modelPath}: ${(err as Error).message}`, { cause: err });
    }
    const modelSha256 = createHash('sha256').update(bytes).digest('hex');
    const tokenizer = TextTokenizer.load({
      path: resolve(options.tokenizer ?? join(dirname(modelPath), 'tokenizer.json')),
      template: options.template,
      chatTemplate: options.chatTemplate,
    });

    let model;
    try {
      model = decodeModel(bytes);
    } catch (err) {
      throw new UserError(`${modelPath} is not an ONNX model: ${(err as Error).message}`, { cause: err });
    }
    const declared = tokenStreams(modelMetadata(model));
    const mainInputs = declared.length ? (model.graph!.input ?? []).filter((i) => streamOf(i.name, declared) === null) : [];
    const plan = applyLayerTap(model, { layers: options.layers ?? null }, modelPath);
    // The main stream sets the batches and finds empty texts, so its inputs stay even when only
    // other streams' layers are selected (--layers 3 of the default model): unread, still fed.
    const tappedInputs = plan.model.graph!.input ?? [];
    if (mainInputs.length && !tappedInputs.some((i) => mainInputs.some((m) => m.name === i.name))) plan.model.graph!.input = [...mainInputs, ...tappedInputs];
    // The tap prunes what the selected layers do not read: a stream whose inputs went with it
    // (--layers 0,1 of the default model drops GloVe's) is neither tokenized nor fed.
    const streamNames = declared.filter((s) => (plan.model.graph!.input ?? []).some((i) => streamOf(i.name, declared) === s));
    const streams: TokenStream[] = streamNames.map((name) => {
      const tokenizer = TextTokenizer.load({ path: join(dirname(modelPath), name, 'tokenizer.json') });
      return { name, tokenizer, maxTokens: Math.min(DEFAULTS.maxTokens, tokenizer.modelMaxLength ?? Infinity) };
    });
    if (options.fuseAttention) {
      const f = fuseAttention(plan.model);
      log(`fuse attention: ${f.fused} attention(s) now run as MultiHeadAttention${f.skipped ? `, ${f.skipped} left unfused (not the pattern fuseAttention knows)` : ''}`);
    }
    const inputs = classifyInputs(plan.model.graph!.input as ValueInfoProto[], modelPath, modelSignature(plan.model), streamNames);
    const tapped = encodeModelProto(plan.model);

    // A model whose weights sit in external files (models over 2 GB) is opened from memory with
    // onnxruntime told where those files are: they stay where they are, unread by us.
    const external = (plan.model.graph!.initializer ?? []).some((t) => t.dataLocation === 1);
    let opened;
    try {
      opened = await openOrtSession(tapped, {
        device: options.device ?? 'auto',
        intraOpThreads: options.intraOpThreads,
        interOpThreads: options.interOpThreads,
        log,
        externalDataFolder: external ? dirname(modelPath) : undefined,
      });
    } catch (err) {
      throw new UserError(`cannot open ${modelPath} in onnxruntime: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }

    const maxTokens = options.maxTokens ?? Math.min(DEFAULTS.maxTokens, tokenizer.modelMaxLength ?? Infinity);
    let paddingSide = options.paddingSide ?? 'right';
    if (paddingSide === 'left' && !inputs.some((i) => i.role === 'position_ids')) {
      // Without position_ids the model numbers positions itself from 0, so left padding would
      // shift every real token's position and change its hidden state.
      log(`padding side left ignored: ${modelPath} takes no position_ids; padding on the right`);
      paddingSide = 'right';
    }
    // One token through the model tells the width when the graph does not declare it, and shows a
    // model that cannot run at all before any data flows.
    const init: EmbedderInit = {
      modelSha256,
      tokenizer,
      streams,
      layers: plan.layers,
      numLayers: plan.numLayers,
      width: 0,
      maxTokens,
      batchTokens: options.batchTokens ?? DEFAULTS.batchTokens,
      cacheMiB: options.cacheMiB ?? DEFAULTS.cacheMiB,
      device: opened.device,
      tapKind: plan.kind,
    };
    const probe = new Embedder(opened.session, inputs, plan.outputNames, paddingSide, init);
    let width: number;
    try {
      const out = await probe.runBatch([Int32Array.of(tokenizer.padId)]);
      width = out.width;
    } catch (err) {
      await opened.session.release();
      throw new UserError(`${modelPath}: a first run failed: ${(err as Error).message.split('\n')[0]} (${modelSignature(plan.model)})`, { cause: err });
    }
    if (plan.declaredWidth !== null && plan.declaredWidth !== width) throw new UserError(`${modelPath}: declares width ${plan.declaredWidth} but outputs ${width}`);
    return new Embedder(opened.session, inputs, plan.outputNames, paddingSide, { ...init, width });
  }

  /** The text the model sees for a (prompt, response) pair. */
  render(prompt: string, response: string): string {
    return this.tokenizer.render(prompt, response);
  }

  /** Embeds texts or pairs; throws if any of them has no tokens. */
  async embedTexts(inputs: readonly EmbedInput[]): Promise<Embedding[]> {
    const { embeddings } = await this.embed(inputs);
    const empty = embeddings.indexOf(null);
    if (empty >= 0) throw new UserError(`text ${empty} has no tokens`);
    return embeddings as Embedding[];
  }

  async embed(inputs: readonly EmbedInput[]): Promise<EmbedOutput> {
    if (this.closed) throw new Error('Embedder is closed');
    const info: EmbedInfo = { texts: inputs.length, tokens: 0, computed: 0, computedTokens: 0, paddedSlots: 0, batches: 0, truncated: 0, cacheHits: 0, empty: 0 };
    // Each stream renders a pair through its own template.
    const text = (tok: TextTokenizer, x: EmbedInput) => (typeof x === 'string' ? x : tok.render(x.prompt, x.response));
    const encoded = inputs.map((x) => this.tokenizer.encode(text(this.tokenizer, x), this.maxTokens));
    const streamIds = this.streams.map((s) => inputs.map((x) => s.tokenizer.encode(text(s.tokenizer, x), s.maxTokens).ids));
    const results: (Embedding | null)[] = new Array(inputs.length).fill(null);
    const wanted = new Map<string, number[]>();
    const todo: Pending[] = [];
    encoded.forEach((e, i) => {
      info.tokens += e.ids.length;
      if (e.truncated) info.truncated += 1;
      if (e.ids.length === 0) {
        info.empty += 1;
        return;
      }
      const streams = streamIds.map((ids) => ids[i]);
      const key = [e.ids, ...streams].map(tokenKey).join(' ');
      const hit = this.cache.get(key);
      if (hit) {
        info.cacheHits += 1;
        results[i] = this.embedding(hit, e.ids.length, e.truncated);
        return;
      }
      const list = wanted.get(key);
      if (list) {
        info.cacheHits += 1;
        list.push(i);
      } else {
        wanted.set(key, [i]);
        todo.push({ ids: e.ids, streams, key });
      }
    });

    // Double-buffered, one run in flight: the next batch's feeds are built while the session runs
    // this one, and this one's features are read out while it runs the next, so the session (a GPU
    // above all) does not wait on JS between batches. Same batches in the same order: same bytes.
    const batches = bucketByTokens(todo.map((p) => p.ids.length), this.batchTokens).map((group) => group.map((k) => todo[k]));
    let pending: Promise<ort.InferenceSession.ReturnType> | null = null;
    try {
      const feedsOf = (batch: readonly Pending[]) => this.feeds(batch.map((p) => p.ids), this.streams.map((_, k) => batch.map((p) => p.streams[k])));
      if (batches.length) pending = this.session.run(feedsOf(batches[0]), this.outputNames as string[]);
      for (let b = 0; b < batches.length; b++) {
        const batch = batches[b];
        const nextFeeds = b + 1 < batches.length ? feedsOf(batches[b + 1]) : null;
        const raw: ort.InferenceSession.ReturnType = await pending!;
        pending = nextFeeds ? this.session.run(nextFeeds, this.outputNames as string[]) : null;
        const out = this.collect(raw, batch.map((p) => p.ids));
        info.batches += 1;
        info.paddedSlots += out.slots;
        batch.forEach((p, r) => {
          const features = out.rows[r];
          info.computed += 1;
          info.computedTokens += p.ids.length;
          this.cache.put(p.key, features);
          for (const i of wanted.get(p.key)!) results[i] = this.embedding(features, encoded[i].ids.length, encoded[i].truncated);
        });
      }
    } finally {
      // On an error, the run still in flight ends before the caller can close the session.
      if (pending) await pending.then(() => undefined, () => undefined);
    }
    return { embeddings: results, info };
  }

  private embedding(features: Float32Array, tokens: number, truncated: boolean): Embedding {
    return { features, layers: this.layers.length, width: this.width, tokens, truncated };
  }

  /**
   * Runs one padded batch and returns, per row, the [layers x width] features of its last real
   * token. Exposed for the bench, which compares it with a bare session.run.
   */
  async runBatch(rows: readonly Int32Array[]): Promise<{ rows: Float32Array[]; width: number; slots: number }> {
    return this.collect(await this.session.run(this.feeds(rows), this.outputNames as string[]), rows);
  }

  /** A batch's session outputs as per-row features. */
  private collect(out: ort.InferenceSession.ReturnType, rows: readonly Int32Array[]): { rows: Float32Array[]; width: number; slots: number } {
    const { rows: features, width } = featureRows(out, this.outputNames, rows.length);
    return { rows: features, width, slots: rows.length * Math.max(...rows.map((x) => x.length)) };
  }

  /**
   * The feeds for one batch (feeds.ts); exposed for the bench. `streamRows[k]` are the rows of the
   * k-th extra token stream; a stream left out gets one pad token per row.
   */
  feeds(rows: readonly Int32Array[], streamRows: readonly (readonly Int32Array[])[] = []): Record<string, ort.Tensor> {
    const feeds = buildFeeds(this.inputs.filter((i) => i.stream === null), rows, this.tokenizer.padId, this.paddingSide);
    this.streams.forEach((s, k) => {
      const pad = Int32Array.of(s.tokenizer.padId);
      Object.assign(feeds, buildFeeds(this.inputs.filter((i) => i.stream === s.name), streamRows[k] ?? rows.map(() => pad), s.tokenizer.padId, 'right'));
    });
    return feeds;
  }

  /** Entries in the embedding cache (tests). */
  get cacheSize(): number {
    return this.cache.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    await this.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
