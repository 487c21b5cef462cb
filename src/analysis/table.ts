/**
 * Aligned text tables for the terminal. Cells come from untrusted datasets, so control characters
 * (newlines, tabs, ANSI escapes) are shown escaped instead of being sent to the terminal, and long
 * cells are cut to a width.
 */

export type Cell = string | number | boolean | bigint | null | undefined | object;

export interface TableOptions {
  /** Maximum characters per cell (default 60); longer cells end in '…'. */
  readonly maxWidth?: number;
  /** Columns to right-align (numbers); by default a column whose values are all numeric. */
  readonly rightAlign?: readonly boolean[];
  /** Text shown for null (default 'NULL'). */
  readonly nullText?: string;
  /** Draw the rule under the first line (default true); false for a table of name/value lines. */
  readonly rule?: boolean;
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Makes a value safe and one-line for a terminal: control characters become visible escapes. */
export function terminalSafe(s: string): string {
  // C0 controls, DEL and C1 controls (0x9b is a CSI on some terminals), and bidi overrides.
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function cellText(v: Cell, nullText = 'NULL'): string {
  if (v === null || v === undefined) return nullText;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

function cut(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : chars.slice(0, Math.max(1, width - 1)).join('') + '…';
}

const isNumeric = (v: Cell) => typeof v === 'number' || typeof v === 'bigint' || (typeof v === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v));

/** Formats rows as an aligned table with a header and a rule, one line per row. */
export function formatTable(columns: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const maxWidth = options.maxWidth ?? 60;
  const nullText = options.nullText ?? 'NULL';
  const right = options.rightAlign ?? columns.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === null || r[i] === undefined || isNumeric(r[i])));
  const head = columns.map((c) => cut(terminalSafe(c), maxWidth));
  const body = rows.map((r) => columns.map((_, i) => cut(terminalSafe(cellText(r[i], nullText)), maxWidth)));
  const len = (s: string) => [...s].length;
  const widths = head.map((h, i) => Math.max(len(h), ...body.map((r) => len(r[i]))));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(widths[i] - len(s));
    return right[i] ? fill + s : s + fill;
  };
  const line = (cells: string[]) => cells.map(pad).join('  ').trimEnd();
  const rule = options.rule === false ? [] : [widths.map((w) => '-'.repeat(w)).join('  ')];
  return [line(head), ...rule, ...body.map(line)].join('\n');
}

/**
 * Records as a table (benchmark and evaluation results): the union of their keys as columns, in
 * first-seen order, each value through `format` first, never cut, missing values blank.
 */
export function recordTable(rows: readonly Readonly<Record<string, Cell>>[], format: (v: Cell) => Cell = (v) => v): string {
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return formatTable(cols, rows.map((r) => cols.map((c) => format(r[c]))), { maxWidth: Infinity, nullText: '' });
}

/**
 * Rows of short texts the program made itself (a summary, a metrics table), left-aligned and never
 * cut; the first row is a header with a rule under it when `header`.
 */
export function textTable(rows: readonly (readonly string[])[], header = false): string {
  return formatTable(rows[0], rows.slice(1), { maxWidth: Infinity, rightAlign: rows[0].map(() => false), rule: header });
}
