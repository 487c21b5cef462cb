/**
 * Validation of canonical records, after an adapter: what makes a well-formed row unusable.
 * Returns the reason, or null when the record is fine.
 */
import type { ListRecord, PairRecord } from './records.js';

export interface ValidateOptions {
  /** A text longer than this (in UTF-16 code units, about characters) is rejected. */
  readonly maxTextChars: number;
}

export function validatePair(p: PairRecord, options: ValidateOptions): string | null {
  if (p.chosen === p.rejected) return 'chosen equals rejected';
  for (const [name, text] of [['prompt', p.prompt], ['chosen', p.chosen], ['rejected', p.rejected]] as const) {
    if (text.length > options.maxTextChars) return `text too long: ${name} has ${text.length} characters (limit ${options.maxTextChars})`;
  }
  return null;
}

export function validateList(l: ListRecord, options: ValidateOptions): string | null {
  if (l.prompt.length > options.maxTextChars) return `text too long: prompt has ${l.prompt.length} characters (limit ${options.maxTextChars})`;
  for (let i = 0; i < l.responses.length; i++) {
    if (l.responses[i].length > options.maxTextChars) return `text too long: responses[${i}] has ${l.responses[i].length} characters (limit ${options.maxTextChars})`;
  }
  if (new Set(l.responses).size < 2) return 'all responses are equal';
  return null;
}
