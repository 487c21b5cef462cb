/**
 * Progress of a run: on a terminal, a bar on stderr (rows, %, rows/s, ETA); elsewhere (Slurm,
 * Kubernetes, CI logs) one line every `intervalSeconds` through the logger, so a long run is never
 * silent. It polls a counter instead of being called from operators.
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** Rows the whole run will read, when known (Parquet metadata) or estimated (JSON lines); null: unknown. */
  readonly total: number | null;
  /** True when `total` is partly an estimate: it is shown with '~' and never passed before the end. */
  readonly approximate?: boolean;
  /** Draw a bar; default: stderr is a terminal. */
  readonly bar?: boolean;
  /** Without a bar: seconds between progress lines (0: none). */
  readonly intervalSeconds?: number;
  /** Where the progress lines go (the run's logger). */
  readonly line?: (text: string, fields: Record<string, unknown>) => void;
}

/** Seconds as `1h 02m`, `3m 07s` or `12s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** What a progress report says at `done` rows after `seconds`. */
export function progressState(done: number, seconds: number, total: number | null, approximate = false) {
  const speed = seconds > 0 ? done / seconds : 0;
  // An estimated total that the run outgrows is stretched, so the bar never reads 100% before the end.
  const shownTotal = total === null ? null : approximate ? Math.max(total, Math.ceil(done * 1.01)) : total;
  const fraction = shownTotal ? Math.min(1, done / shownTotal) : null;
  const eta = shownTotal !== null && speed > 0 ? (shownTotal - Math.min(done, shownTotal)) / speed : null;
  return { done, shownTotal, fraction, speed, eta };
}

/** One progress line: `progress: 12,345 / ~100,000 rows (12.3%), 1,234 rows/s, ETA 1m 13s`. */
export function progressLine(s: ReturnType<typeof progressState>, approximate = false): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const of = s.shownTotal === null ? '' : ` / ${approximate ? '~' : ''}${n(s.shownTotal)}`;
  const pct = s.fraction === null ? '' : ` (${(100 * s.fraction).toFixed(1)}%)`;
  const eta = s.eta === null ? '' : `, ETA ${formatDuration(s.eta)}`;
  return `progress: ${n(s.done)}${of} rows${pct}, ${n(s.speed)} rows/s${eta}`;
}

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();

  constructor(
    private readonly read: () => number,
    private readonly options: ProgressOptions,
  ) {
    const { total, approximate = false } = options;
    if (options.bar ?? Boolean(process.stderr.isTTY)) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format:
            total !== null
              ? ` {bar} {percentage}% | {value}/${approximate ? '~' : ''}{total} rows | {speed} rows/s | ETA {eta_formatted}`
              : ' {value} rows | {speed} rows/s',
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total ?? 0, 0, { speed: '0' });
      this.timer = setInterval(() => this.tick(), 250);
    } else if ((options.intervalSeconds ?? 0) > 0 && options.line) {
      this.timer = setInterval(() => this.report(), options.intervalSeconds! * 1000);
    }
    this.timer?.unref();
  }

  private state() {
    return progressState(this.read(), (Date.now() - this.t0) / 1000, this.options.total, this.options.approximate);
  }

  private tick(): void {
    const s = this.state();
    if (s.shownTotal !== null && s.shownTotal !== this.options.total) this.bar?.setTotal(s.shownTotal);
    this.bar?.update(s.done, { speed: s.speed.toFixed(0) });
  }

  private report(): void {
    const s = this.state();
    this.options.line?.(progressLine(s, this.options.approximate), { rows: s.done, total: s.shownTotal, rowsPerSecond: Math.round(s.speed), etaSeconds: s.eta === null ? null : Math.round(s.eta) });
  }

  /** Draws the last state and ends the bar's line; a second call does nothing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.bar) {
      this.tick();
      this.bar.stop();
      this.bar = null;
    }
  }
}
