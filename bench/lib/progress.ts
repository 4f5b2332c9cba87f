/**
 * A progress line on stderr: resources done, the rate over the last seconds, an ETA from whatever
 * measures the total (bytes of the input files, patients to generate). On a terminal it redraws
 * in place; otherwise (a log file, CI) it prints a line every few seconds.
 */
export interface ProgressOptions {
  label: string;
  /** The total in `units`, for the bar and the ETA; unknown if absent. */
  totalUnits?: number;
  /** How to show the totals, e.g. bytes. */
  formatUnits?: (units: number) => string;
  stream?: NodeJS.WriteStream;
  /** Quiet: nothing but `log` lines. */
  silent?: boolean;
}

const WINDOW_MS = 10_000;

export class Progress {
  private resources = 0;
  private failed = 0;
  private units = 0;
  private readonly started = performance.now();
  private readonly samples: { at: number; resources: number; units: number }[] = [];
  private lastDraw = 0;
  private lastLine = 0;
  private drawn = false;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY) && !options.silent;
    this.samples.push({ at: this.started, resources: 0, units: 0 });
    if (!options.silent) {
      this.timer = setInterval(() => this.draw(), this.tty ? 500 : 5_000);
      this.timer.unref();
    }
  }

  add(resources: number, units: number, failed = 0): void {
    this.resources += resources;
    this.units += units;
    this.failed += failed;
    const now = performance.now();
    this.samples.push({ at: now, resources: this.resources, units: this.units });
    while (this.samples.length > 2 && now - this.samples[1].at > WINDOW_MS) this.samples.shift();
    if (this.tty && now - this.lastDraw > 200) this.draw();
  }

  /** A line above the progress line (an error, a note). */
  log(line: string): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${line}\n`);
    this.drawn = false;
    if (this.tty) this.draw();
  }

  /** Resources per second over the last ten seconds. */
  currentRate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (performance.now() - first.at) / 1000;
    return seconds > 0 ? (last.resources - first.resources) / seconds : 0;
  }

  private eta(): string {
    const total = this.options.totalUnits;
    if (!total) return '';
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (performance.now() - first.at) / 1000;
    const unitRate = seconds > 0 ? (last.units - first.units) / seconds : 0;
    if (unitRate <= 0) return ' ETA --:--';
    return ` ETA ${formatDuration(Math.max(0, total - this.units) / unitRate)}`;
  }

  private line(): string {
    const total = this.options.totalUnits;
    let bar = '';
    if (total) {
      const fraction = Math.min(1, this.units / total);
      const width = 24;
      const filled = Math.round(fraction * width);
      bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
    }
    const elapsed = formatDuration((performance.now() - this.started) / 1000);
    const failed = this.failed ? `, ${this.failed.toLocaleString('en-US')} failed` : '';
    return `${this.options.label} ${bar}${this.resources.toLocaleString('en-US')} resources${failed}, ${Math.round(this.currentRate()).toLocaleString('en-US')}/s, ${elapsed}${this.eta()}`;
  }

  private draw(): void {
    if (this.options.silent) return;
    const now = performance.now();
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${this.line()}`);
      this.drawn = true;
      this.lastDraw = now;
    } else if (now - this.lastLine >= 5_000) {
      this.stream.write(`${this.line()}\n`);
      this.lastLine = now;
    }
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.options.silent) return;
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${this.line().replace(/ ETA .*$/, '')}\n`);
    this.drawn = false;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
