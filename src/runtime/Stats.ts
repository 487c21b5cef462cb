/**
 * A stats sink that stages count into, and that merges exactly across ranks: counters, and metrics
 * with count, sum, min, max and a Welford running variance (combined with the parallel formula).
 */

export interface MetricJson {
  n: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
}

export class Metric {
  n = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  mean = 0;
  m2 = 0;

  add(x: number): void {
    this.n += 1;
    this.sum += x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }

  /** Chan et al.'s parallel combination: merging per-rank metrics equals one pass over all values. */
  merge(o: MetricJson): void {
    if (o.n === 0) return;
    if (this.n === 0) {
      Object.assign(this, { n: o.n, sum: o.sum, min: o.min, max: o.max, mean: o.mean, m2: o.m2 });
      return;
    }
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
    this.sum += o.sum;
    this.min = Math.min(this.min, o.min);
    this.max = Math.max(this.max, o.max);
  }

  get variance(): number {
    return this.n > 1 ? this.m2 / (this.n - 1) : 0;
  }

  toJSON(): MetricJson & { variance: number } {
    return { n: this.n, sum: this.sum, min: this.min, max: this.max, mean: this.mean, m2: this.m2, variance: this.variance };
  }
}

export interface StatsJson {
  counters: Record<string, number>;
  metrics: Record<string, MetricJson>;
}

/** Keys are `stage.name`, e.g. `validatePairs.rejected`. */
export class Stats {
  readonly counters = new Map<string, number>();
  readonly metrics = new Map<string, Metric>();

  count(key: string, by = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  observe(key: string, value: number): void {
    let m = this.metrics.get(key);
    if (!m) this.metrics.set(key, (m = new Metric()));
    m.add(value);
  }

  get(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  merge(o: StatsJson): void {
    for (const [k, v] of Object.entries(o.counters)) this.count(k, v);
    for (const [k, v] of Object.entries(o.metrics)) {
      let m = this.metrics.get(k);
      if (!m) this.metrics.set(k, (m = new Metric()));
      m.merge(v);
    }
  }

  toJSON(): StatsJson {
    const sorted = <V>(m: Map<string, V>) => Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      counters: sorted(this.counters),
      metrics: Object.fromEntries([...this.metrics.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, m]) => [k, m.toJSON()])),
    };
  }
}
