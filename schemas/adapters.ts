/**
 * Adapters: input rows in the common public layouts become canonical PairRecord / ListRecord, or a
 * RejectRecord saying why not. The format is detected from a row's columns, or forced with --format.
 */
import { toReject, type ListRecord, type PairRecord, type RawRow, type RejectRecord } from './records.js';
import { Utf8Texts } from './utf8Texts.js';

export const formats = ['auto', 'explicit', 'implicit', 'conversational', 'pku', 'list'] as const;
export type Format = (typeof formats)[number];

export interface AdaptOptions {
  readonly format: Format;
  /** PKU-SafeRLHF / BeaverTails: which id column decides chosen. */
  readonly pkuChoice: 'safer' | 'better';
}

type Row = Readonly<Record<string, unknown>>;
type Message = { role: string; content: string };

const ASSISTANT = '\n\nAssistant:';
/** True for a string of whitespace only; a regex stops at the first non-space, where trim() copies the text. */
const blank = (s: string): boolean => !/\S/.test(s);

const isMessages = (v: unknown): v is Message[] =>
  Array.isArray(v) && v.length > 0 && v.every((m) => m !== null && typeof m === 'object' && typeof (m as Message).role === 'string' && 'content' in m);

/** Which layout a row is in, from its columns alone; null when none fits. */
export function detectFormat(row: Row): Exclude<Format, 'auto'> | null {
  const has = (k: string) => k in row;
  if (has('response_0') && has('response_1') && has('prompt')) return 'pku';
  if (has('prompt') && has('responses')) return 'list';
  if (has('chosen') && has('rejected')) {
    if (isMessages(row.chosen) || isMessages(row.prompt)) return 'conversational';
    return has('prompt') ? 'explicit' : 'implicit';
  }
  return null;
}

/** Consumed columns per format: everything else passes through. */
const consumed: Record<Exclude<Format, 'auto'>, readonly string[]> = {
  explicit: ['prompt', 'chosen', 'rejected', 'id', 'pair_id', 'category', 'chosen_safe', 'rejected_safe'],
  implicit: ['chosen', 'rejected', 'id', 'category', 'chosen_safe', 'rejected_safe'],
  conversational: ['prompt', 'chosen', 'rejected', 'id', 'category', 'chosen_safe', 'rejected_safe'],
  pku: ['prompt', 'response_0', 'response_1', 'safer_response_id', 'better_response_id', 'is_response_0_safe', 'is_response_1_safe', 'id', 'category'],
  list: ['prompt', 'responses', 'labels', 'id', 'category'],
};

/** A stable id from the content, so the same pair gets the same id in every run and on every rank. */
export function contentId(...texts: readonly string[]): string {
  return Utf8Texts.encode(texts).id();
}

function reject(raw: RawRow, reason: string): RejectRecord {
  return toReject(raw, reason, raw.row);
}

const consumedSets = Object.fromEntries(Object.entries(consumed).map(([k, v]) => [k, new Set(v)])) as unknown as Record<Exclude<Format, 'auto'>, ReadonlySet<string>>;

function passThrough(row: Row, format: Exclude<Format, 'auto'>): Record<string, unknown> {
  const used = consumedSets[format];
  const out: Record<string, unknown> = {};
  // for-in over own keys (rows are plain objects from JSON.parse or the readers): no entries array per row.
  for (const k in row) if (!used.has(k)) out[k] = row[k];
  return out;
}

function optionalBool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : v === 1 || v === 0 ? v === 1 : null;
}

function optionalString(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function idOf(row: Row): string | null {
  // `pair_id` is what prefrank itself writes, so converted shards keep their ids.
  const v = row.id ?? row.pair_id;
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return null;
}

/** Checks a text column: the reason it is unusable, or null. */
function textProblem(row: Row, col: string): string | null {
  if (!(col in row)) return `missing column: ${col}`;
  const v = row[col];
  if (v === null || v === undefined) return `null text: ${col}`;
  if (typeof v !== 'string') return `wrong type: ${col} is ${Array.isArray(v) ? 'a list' : typeof v}, expected a string`;
  if (blank(v)) return `empty text: ${col}`;
  return null;
}

/** HH-RLHF style: the shared dialogue up to the last Assistant turn is the prompt. */
export function splitImplicit(chosen: string, rejected: string): { prompt: string; chosen: string; rejected: string } | null {
  // The last Assistant turn of `chosen` that `rejected` shares everything up to. Checked from the
  // end: it is nearly always the last one. The shared part is compared as two equal-length slices
  // (V8 compares those as memory) rather than with startsWith, which compared it character by
  // character and was the adapter's hottest line: 100k HH rows, 3.0 -> 0.49 us a row.
  for (let cut = chosen.lastIndexOf(ASSISTANT); cut >= 0; cut = cut === 0 ? -1 : chosen.lastIndexOf(ASSISTANT, cut - 1)) {
    const end = cut + ASSISTANT.length;
    const prompt = chosen.slice(0, end);
    if (rejected.length >= end && rejected.slice(0, end) === prompt) return { prompt, chosen: chosen.slice(end), rejected: rejected.slice(end) };
  }
  return null;
}

const roleLabel: Record<string, string> = { user: 'Human', assistant: 'Assistant', system: 'System' };

/** Renders messages as HH-style dialogue text ("\n\nHuman: ...\n\nAssistant: ..."). */
export function renderMessages(messages: readonly Message[]): string {
  return messages.map((m) => `\n\n${roleLabel[m.role] ?? m.role}: ${m.content}`).join('');
}

/**
 * A pair record, built in one literal: always the same fields in the same order, so every pair
 * shares one object shape. The spread-and-rest version this replaces cost about 5 us a row, the
 * largest part of adapting an HH row (measured on 100k HH rows, 2026-12-07).
 */
function pair(raw: RawRow, format: Exclude<Format, 'auto'>, texts: { prompt: string; chosen: string; rejected: string }, chosenSafe: boolean | null, rejectedSafe: boolean | null): PairRecord {
  const row = raw.row;
  const id = idOf(row);
  const { prompt, chosen, rejected } = texts;
  // Encoded once, for the content id and for the writer (see Utf8Texts), even when the input has
  // its own id: the writer would encode them anyway.
  const utf8 = Utf8Texts.encode([prompt, chosen, rejected]);
  return {
    kind: 'pair',
    sourceFile: raw.sourceFile,
    sourceRow: raw.sourceRow,
    pairId: id ?? utf8.id(),
    idFromInput: id !== null,
    category: optionalString(row.category),
    passThrough: passThrough(row, format),
    prompt,
    chosen,
    rejected,
    chosenSafe,
    rejectedSafe,
    utf8,
  };
}

/** Adapts one raw row. */
export function adaptRow(raw: RawRow, options: AdaptOptions): PairRecord | ListRecord | RejectRecord {
  const row = raw.row;
  const format = options.format === 'auto' ? detectFormat(row) : options.format;
  if (format === null) return reject(raw, `unknown format: columns ${Object.keys(row).sort().join(', ') || '(none)'}`);
  switch (format) {
    case 'explicit': {
      const problem = textProblem(row, 'prompt') ?? textProblem(row, 'chosen') ?? textProblem(row, 'rejected');
      if (problem) return reject(raw, problem);
      return pair(raw, format, { prompt: row.prompt as string, chosen: row.chosen as string, rejected: row.rejected as string }, optionalBool(row.chosen_safe), optionalBool(row.rejected_safe));
    }
    case 'implicit': {
      const problem = textProblem(row, 'chosen') ?? textProblem(row, 'rejected');
      if (problem) return reject(raw, problem);
      const split = splitImplicit(row.chosen as string, row.rejected as string);
      if (!split) return reject(raw, 'implicit prompt: chosen and rejected share no dialogue up to an Assistant turn');
      // Checked after the split: a whole dialogue is never blank, but its last answer can be (four
      // real HH-RLHF test rows), and the explicit layout rejects a blank answer too.
      if (blank(split.chosen)) return reject(raw, 'empty text: chosen');
      if (blank(split.rejected)) return reject(raw, 'empty text: rejected');
      return pair(raw, format, split, optionalBool(row.chosen_safe), optionalBool(row.rejected_safe));
    }
    case 'conversational': {
      for (const col of ['chosen', 'rejected']) {
        if (!(col in row)) return reject(raw, `missing column: ${col}`);
        if (!isMessages(row[col])) return reject(raw, `wrong type: ${col} is not a list of {role, content} messages`);
      }
      const c = row.chosen as Message[];
      const r = row.rejected as Message[];
      let prompt: Message[];
      let chosen: Message[];
      let rejected: Message[];
      if ('prompt' in row && row.prompt !== null) {
        if (!isMessages(row.prompt)) return reject(raw, 'wrong type: prompt is not a list of {role, content} messages');
        [prompt, chosen, rejected] = [row.prompt as Message[], c, r];
      } else {
        // Implicit conversational: the shared leading messages are the prompt.
        let k = 0;
        while (k < c.length - 1 && k < r.length - 1 && c[k].role === r[k].role && c[k].content === r[k].content) k++;
        [prompt, chosen, rejected] = [c.slice(0, k), c.slice(k), r.slice(k)];
      }
      const text = (ms: Message[]) => ms.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n\n');
      const p = renderMessages(prompt) + (prompt.length ? '\n\nAssistant:' : '');
      const ct = text(chosen);
      const rt = text(rejected);
      if (blank(ct)) return reject(raw, 'empty text: chosen');
      if (blank(rt)) return reject(raw, 'empty text: rejected');
      if (blank(p)) return reject(raw, 'empty text: prompt');
      return pair(raw, format, { prompt: p, chosen: ' ' + ct, rejected: ' ' + rt }, optionalBool(row.chosen_safe), optionalBool(row.rejected_safe));
    }
    case 'pku': {
      const problem = textProblem(row, 'prompt') ?? textProblem(row, 'response_0') ?? textProblem(row, 'response_1');
      if (problem) return reject(raw, problem);
      const col = options.pkuChoice === 'safer' ? 'safer_response_id' : 'better_response_id';
      const pick = row[col];
      const which = typeof pick === 'bigint' ? Number(pick) : pick;
      if (which !== 0 && which !== 1) return reject(raw, col in row ? `wrong type: ${col} must be 0 or 1` : `missing column: ${col}`);
      const safe = [optionalBool(row.is_response_0_safe), optionalBool(row.is_response_1_safe)];
      const other = 1 - which;
      return pair(raw, format, { prompt: row.prompt as string, chosen: row[`response_${which}`] as string, rejected: row[`response_${other}`] as string }, safe[which], safe[other]);
    }
    case 'list': {
      const problem = textProblem(row, 'prompt');
      if (problem) return reject(raw, problem);
      const responses = row.responses;
      if (!Array.isArray(responses)) return reject(raw, 'wrong type: responses is not a list');
      if (responses.length < 2) return reject(raw, 'too few responses: need at least 2');
      if (!responses.every((x) => typeof x === 'string' && !blank(x))) return reject(raw, 'wrong type: responses must be non-empty strings');
      const labels = Array.isArray(row.labels) ? (row.labels as unknown[]).map(optionalBool) : null;
      if (labels && labels.length !== responses.length) return reject(raw, 'labels and responses differ in length');
      const id = idOf(row);
      return {
        kind: 'list',
        sourceFile: raw.sourceFile,
        sourceRow: raw.sourceRow,
        listId: id ?? contentId(row.prompt as string, ...(responses as string[])),
        idFromInput: id !== null,
        prompt: row.prompt as string,
        responses: responses as string[],
        labels,
        category: optionalString(row.category),
        passThrough: passThrough(row, format),
      };
    }
  }
}
