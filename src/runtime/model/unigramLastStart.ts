/**
 * Unigram segmentation with the tie rule of the Universal Sentence Encoder's TF.js tokenizer (the
 * one the default model was trained with), for tokenizers whose tokenizer_config.json says
 * `"unigram_tie_break": "last-start"`.
 *
 * SentencePiece and @huggingface/tokenizers keep, among equally scored segmentations, the one whose
 * last piece is longest ("*" then "***" for "****"); the TF.js tokenizer keeps the one whose last
 * piece starts last ("***" then "*"). The scores are the same, so no vocabulary can express the
 * difference; measured on the shared HH-RLHF and moderation texts, 53 of 6,311 texts tokenize
 * differently without this rule (runs of repeated characters). A character that starts no piece is
 * an unknown piece with score 0, as in the TF.js tokenizer; runs of unknowns are fused later by the
 * tokenizer's own pipeline.
 */
export interface Piece {
  readonly piece: string;
  readonly score: number;
}

interface TrieNode {
  readonly next: Map<string, TrieNode>;
  /** The piece's score when a piece ends here. */
  score: number | null;
}

export class LastStartUnigram {
  private readonly root: TrieNode = { next: new Map(), score: null };

  /** `pieces` with their scores; `unkPiece` is what an unknown character becomes. */
  constructor(
    pieces: readonly Piece[],
    private readonly unkPiece: string,
  ) {
    for (const { piece, score } of pieces) {
      let node = this.root;
      for (const ch of piece) {
        let n = node.next.get(ch);
        if (!n) node.next.set(ch, (n = { next: new Map(), score: null }));
        node = n;
      }
      node.score = score;
    }
  }

  /** The pieces of an already normalised text. */
  tokenize(normalized: string): string[] {
    const chars = Array.from(normalized);
    const n = chars.length;
    // best[e]: score of the best segmentation of chars[0, e); from[e]: where its last piece starts
    // (-1: unknown character).
    const best = new Float64Array(n + 1);
    const from = new Int32Array(n + 1).fill(-2);
    const unk = new Uint8Array(n + 1);
    // Candidates by end position, in ascending start order (the TF.js code's iteration order).
    const ends: { start: number; score: number; unk: boolean }[][] = Array.from({ length: n + 1 }, () => []);
    for (let i = 0; i < n; i++) {
      let node: TrieNode | undefined = this.root;
      let found = false;
      for (let j = i; j < n && node; j++) {
        node = node.next.get(chars[j]);
        if (node?.score !== null && node !== undefined) {
          ends[j + 1].push({ start: i, score: node.score, unk: false });
          found = true;
        }
      }
      if (!found) ends[i + 1].push({ start: i, score: 0, unk: true });
    }
    for (let e = 1; e <= n; e++) {
      // `best === 0 || score >= best`: as the TF.js code writes it (0 means "not set yet"), so
      // among equal scores the candidate that starts last wins.
      for (const c of ends[e]) {
        const s = c.score + best[c.start];
        if (best[e] === 0 || s >= best[e]) {
          best[e] = s;
          from[e] = c.start;
          unk[e] = c.unk ? 1 : 0;
        }
      }
    }
    const out: string[] = [];
    for (let e = n; e > 0; ) {
      const s = from[e];
      // No piece ends here (the text ran past the end of a longer piece): the TF.js code emits its
      // unknown piece and steps back one character, and so does this.
      if (s === -2 || unk[e]) {
        out.push(this.unkPiece);
        e -= 1;
        continue;
      }
      out.push(chars.slice(s, e).join(''));
      e = s;
    }
    return out.reverse();
  }
}
