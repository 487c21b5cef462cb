/**
 * A progress bar on stderr (rows, rows/s, ETA) when stderr is a terminal; silent otherwise, so logs
 * and CI output stay clean. It polls a counter instead of being called from operators.
 */
import cliProgress from 'cli-progress';

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();

  constructor(
    private readonly read: () => number,
    total: number | null,
    enabled = Boolean(process.stderr.isTTY),
  ) {
    if (!enabled) return;
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: total ? ' {bar} {percentage}% | {value}/{total} rows | {speed} rows/s | ETA {eta_formatted}' : ' {value} rows | {speed} rows/s',
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total ?? 0, 0, { speed: '0' });
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
  }

  private tick(): void {
    const v = this.read();
    const secs = (Date.now() - this.t0) / 1000;
    this.bar?.update(v, { speed: secs > 0 ? (v / secs).toFixed(0) : '0' });
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
