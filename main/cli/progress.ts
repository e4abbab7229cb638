/**
 * A terminal progress bar: count, rate, ETA. Redraws in place on a TTY; on a pipe (CI, logs) it prints a
 * plain line at most every few seconds so logs stay readable.
 */
export class ProgressBar {
  private readonly start = Date.now();
  private lastDraw = 0;
  private done = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly unit = 'img',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  tick(done = this.done + 1, extra = ''): void {
    this.done = done;
    const now = Date.now();
    if (now - this.lastDraw < (this.tty ? 100 : 5000) && done < this.total) return;
    this.lastDraw = now;
    this.draw(extra);
  }

  finish(extra = ''): void {
    this.draw(extra);
    if (this.tty) this.stream.write('\n');
  }

  private draw(extra: string): void {
    const seconds = (Date.now() - this.start) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const eta = rate > 0 ? Math.max(0, (this.total - this.done) / rate) : NaN;
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const width = 28;
    const filled = Math.round(fraction * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${this.label} ${bar} ${this.done}/${this.total} ${rate.toFixed(1)} ${this.unit}/s ETA ${formatSeconds(eta)}${extra ? ` ${extra}` : ''}`;
    this.stream.write(this.tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}
