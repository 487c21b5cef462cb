/**
 * A tokenizer.json loaded with @huggingface/tokenizers, plus what the embed stage needs on top:
 * the text template that joins prompt and response (or the tokenizer's chat template), and
 * truncation that keeps the END of the text, because the probe reads the last token.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { UserError } from '../errors.js';
import { LastStartUnigram } from './unigramLastStart.js';

export const DEFAULT_TEMPLATE = '{prompt}{response}';

export interface TextTokenizerOptions {
  /** Path of tokenizer.json; tokenizer_config.json is read from the same folder when present. */
  readonly path: string;
  /** Joins prompt and response; `{prompt}` and `{response}` are replaced. */
  readonly template?: string;
  /** Use the tokenizer config's chat template (user = prompt, assistant = response) instead. */
  readonly chatTemplate?: boolean;
}

export interface Encoded {
  readonly ids: Int32Array;
  /** True when tokens were dropped from the start to fit `maxTokens`. */
  readonly truncated: boolean;
}

export class TextTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    /** sha256 of tokenizer.json's bytes (the manifest records it). */
    readonly sha256: string,
    /** The template string, or `chat-template` when the tokenizer's chat template is used. */
    readonly template: string,
    private readonly chat: Template | null,
    private readonly chatVars: Readonly<Record<string, unknown>>,
    /** Special tokens the tokenizer puts before and after a single text (e.g. [CLS] ... [SEP]). */
    readonly prefix: readonly number[],
    readonly suffix: readonly number[],
    readonly padId: number,
    /** model_max_length from tokenizer_config.json when it is a real limit, else null. */
    readonly modelMaxLength: number | null,
  ) {}

  static load(options: TextTokenizerOptions): TextTokenizer {
    const { path } = options;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new UserError(`cannot read tokenizer ${path}: ${(err as Error).message}`, { cause: err });
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const cfgPath = join(dirname(path), 'tokenizer_config.json');
    let config: Record<string, unknown> = {};
    try {
      if (existsSync(cfgPath)) config = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UserError(`cannot parse ${cfgPath}: ${(err as Error).message}`, { cause: err });
    }
    let tok: Tokenizer;
    let json: { model?: { type?: string; vocab?: [string, number][]; unk_id?: number } };
    try {
      json = JSON.parse(bytes.toString('utf8')) as typeof json;
      tok = new Tokenizer(json, config);
    } catch (err) {
      throw new UserError(`cannot load tokenizer ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (config['unigram_tie_break'] !== undefined) useTieBreak(tok, json, config['unigram_tie_break'], cfgPath);

    let chat: Template | null = null;
    let template = options.template ?? templateOf(config, cfgPath);
    if (options.chatTemplate) {
      const src = config['chat_template'];
      const text = typeof src === 'string' ? src : Array.isArray(src) ? (src.find((t: { name?: string }) => t?.name === 'default') as { template?: string } | undefined)?.template : undefined;
      if (!text) throw new UserError(`--chat-template: ${cfgPath} has no chat_template`);
      try {
        chat = new Template(text);
      } catch (err) {
        throw new UserError(`--chat-template: cannot parse the chat template of ${cfgPath}: ${(err as Error).message}`, { cause: err });
      }
      template = 'chat-template';
    } else {
      validateTemplate(template);
    }
    const tokenName = (k: string): string | undefined => {
      const v = config[k];
      return typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content;
    };
    const chatVars = { bos_token: tokenName('bos_token') ?? '', eos_token: tokenName('eos_token') ?? '', add_generation_prompt: false };

    // Learn the special tokens a single text gets by encoding a probe with and without them. The
    // chat template writes its own special tokens, as transformers' apply_chat_template does.
    let prefix: number[] = [];
    let suffix: number[] = [];
    if (!chat) {
      const bare = tok.encode('hello', { add_special_tokens: false }).ids;
      const full = tok.encode('hello', { add_special_tokens: true }).ids;
      const at = indexOfSeq(full, bare);
      if (at >= 0) {
        prefix = full.slice(0, at);
        suffix = full.slice(at + bare.length);
      }
    }
    const padName = tokenName('pad_token');
    const padId = (padName !== undefined ? tok.token_to_id(padName) : undefined) ?? ['[PAD]', '<pad>', '<|endoftext|>'].map((t) => tok.token_to_id(t)).find((x) => x !== undefined) ?? 0;
    const mml = typeof config['model_max_length'] === 'number' && (config['model_max_length'] as number) < 1e7 ? (config['model_max_length'] as number) : null;
    return new TextTokenizer(tok, sha256, template, chat, chatVars, prefix, suffix, padId, mml);
  }

  /** The text the model sees for (prompt, response). */
  render(prompt: string, response: string): string {
    if (this.chat) {
      return this.chat.render({ ...this.chatVars, messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: response }] });
    }
    // One pass, so a prompt that contains "{response}" is not expanded again.
    return this.template.replace(/\{(prompt|response)\}/g, (_, k: string) => (k === 'prompt' ? prompt : response));
  }

  /**
   * Token ids of `text` with the tokenizer's special tokens, at most `maxTokens` of them. Longer
   * texts lose tokens from the START of the content: the end of the response, whose last token
   * the probe reads, is always kept, and so are the special prefix and suffix.
   */
  encode(text: string, maxTokens: number): Encoded {
    const content = this.tok.encode(text, { add_special_tokens: false }).ids;
    const room = maxTokens - this.prefix.length - this.suffix.length;
    if (room < 1) throw new UserError(`--max-tokens ${maxTokens} leaves no room for text after the tokenizer's ${this.prefix.length + this.suffix.length} special tokens`);
    const truncated = content.length > room;
    const kept = truncated ? content.slice(content.length - room) : content;
    const ids = new Int32Array(this.prefix.length + kept.length + this.suffix.length);
    ids.set(this.prefix, 0);
    ids.set(kept, this.prefix.length);
    ids.set(this.suffix, this.prefix.length + kept.length);
    return { ids, truncated };
  }

  /** Number of content tokens (no special tokens), for tests and diagnostics. */
  countTokens(text: string): number {
    return this.tok.encode(text, { add_special_tokens: false }).ids.length;
  }
}

/**
 * The template a model asks for: `prefrank_template` in the tokenizer_config.json beside its
 * tokenizer (the default model reads the response alone), else DEFAULT_TEMPLATE.
 */
export function modelTemplate(tokenizerPath: string): string {
  const cfgPath = join(dirname(tokenizerPath), 'tokenizer_config.json');
  if (!existsSync(cfgPath)) return DEFAULT_TEMPLATE;
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`cannot parse ${cfgPath}: ${(err as Error).message}`, { cause: err });
  }
  return templateOf(config, cfgPath);
}

/** `prefrank_template` of a parsed tokenizer_config.json, checked; DEFAULT_TEMPLATE when absent. */
function templateOf(config: Readonly<Record<string, unknown>>, cfgPath: string): string {
  const t = config['prefrank_template'];
  if (t === undefined) return DEFAULT_TEMPLATE;
  if (typeof t !== 'string') throw new UserError(`${cfgPath}: prefrank_template must be a string`);
  validateTemplate(t);
  return t;
}

/**
 * `"unigram_tie_break": "last-start"` in tokenizer_config.json: segment with the TF.js Universal
 * Sentence Encoder's rule (src/runtime/unigramLastStart.ts) instead of the library's. The rest of
 * the pipeline (normalizer, piece-to-id, fusing unknowns) stays the library's.
 */
function useTieBreak(tok: Tokenizer, json: { model?: { type?: string; vocab?: [string, number][]; unk_id?: number } }, rule: unknown, cfgPath: string): void {
  const m = json.model;
  if (rule !== 'last-start') throw new UserError(`${cfgPath}: unigram_tie_break must be "last-start", got ${JSON.stringify(rule)}`);
  if (m?.type !== 'Unigram' || !Array.isArray(m.vocab) || typeof m.unk_id !== 'number') throw new UserError(`${cfgPath}: unigram_tie_break needs a Unigram model with unk_id in tokenizer.json`);
  const lattice = new LastStartUnigram(m.vocab.map(([piece, score]) => ({ piece, score })), m.vocab[m.unk_id][0]);
  // The library's Unigram model segments through its tokenize(normalized) method.
  (tok as unknown as { model: { tokenize: (s: string) => string[] } }).model.tokenize = (s) => lattice.tokenize(s);
}

/** A template must name {response}: the last token of the response is what the probe reads. */
export function validateTemplate(template: string): void {
  if (!template.includes('{response}')) throw new UserError(`--template must contain {response} (got ${JSON.stringify(template)})`);
  const unknown = template.match(/\{(?!prompt\}|response\})[a-z_]+\}/);
  if (unknown) throw new UserError(`--template: unknown placeholder ${unknown[0]} (use {prompt} and {response})`);
}

function indexOfSeq(hay: readonly number[], needle: readonly number[]): number {
  if (needle.length === 0) return -1;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
