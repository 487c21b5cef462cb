/**
 * The counters stages count into, keyed `stage.name` (e.g. `validatePairs.rejected`). Commands read
 * them for their summary line and progress; what a run's outputs hold is counted per part by the
 * writers (PartTally) and summed from the files by the manifest, never from here, so nothing here
 * has to survive a restart or merge across ranks.
 */
export class Stats {
  readonly counters = new Map<string, number>();

  count(key: string, by = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  get(key: string): number {
    return this.counters.get(key) ?? 0;
  }
}
