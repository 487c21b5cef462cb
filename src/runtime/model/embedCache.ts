/**
 * The per-run embedding cache: features by a hash of the text's token ids, least recently used
 * first out, bounded in bytes. A text repeated across pairs (a shared response, a duplicated row)
 * is run through the model once.
 */
import { createHash } from 'node:crypto';

/** The cache key of a tokenized text. */
export function tokenKey(ids: Int32Array): string {
  return createHash('sha1').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('base64');
}

export class EmbedCache {
  private readonly entries = new Map<string, Float32Array>();
  private bytes = 0;

  /** `limitBytes` 0 turns the cache off. */
  constructor(private readonly limitBytes: number) {}

  get(key: string): Float32Array | undefined {
    const v = this.entries.get(key);
    if (v) {
      // Map order is insertion order: re-inserting makes it the most recently used.
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  put(key: string, v: Float32Array): void {
    if (this.limitBytes <= 0 || v.byteLength > this.limitBytes || this.entries.has(key)) return;
    this.entries.set(key, v);
    this.bytes += v.byteLength;
    for (const [k, old] of this.entries) {
      if (this.bytes <= this.limitBytes) break;
      this.entries.delete(k);
      this.bytes -= old.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
