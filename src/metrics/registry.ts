/**
 * A small Prometheus registry: counters, gauges and histograms rendered in the text exposition
 * format 0.0.4. No dependency: the format is a few lines, and owning it keeps label cardinality
 * in our hands. Every metric caps its number of series; past the cap, new label sets are counted
 * under the value `other` for every label, so a flood of distinct values cannot grow memory.
 */

export type Labels = Readonly<Record<string, string>>;

/** Content type of the text exposition format this registry renders. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus' default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const DEFAULT_MAX_SERIES = 500;

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Most series kept; further label sets fold into `other` (default 500). */
  maxSeries?: number;
}

abstract class Metric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Labels; state: S }>();
  private readonly maxSeries: number;

  constructor(o: MetricOptions) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(o.name)) throw new Error(`invalid metric name '${o.name}'`);
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames ?? [];
    this.maxSeries = o.maxSeries ?? DEFAULT_MAX_SERIES;
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected abstract fresh(): S;
  protected abstract lines(labels: Labels, state: S): string[];

  /** The state of one label set, created on first use. */
  protected at(labels: Labels = {}): S {
    // The key is built straight from the label values: this runs for every request.
    const names = this.labelNames;
    let key = '';
    for (let i = 0; i < names.length; i++) key += (i > 0 ? '\u0000' : '') + (labels[names[i] as string] ?? '');
    let entry = this.series.get(key);
    if (!entry && this.series.size >= this.maxSeries) {
      const other = Object.fromEntries(names.map((n) => [n, 'other']));
      key = seriesKey(other);
      entry = this.series.get(key);
      if (!entry) this.series.set(key, (entry = { labels: other, state: this.fresh() }));
    }
    if (!entry) this.series.set(key, (entry = { labels: this.pick(labels), state: this.fresh() }));
    return entry.state;
  }

  /** Forgets every series (gauges refreshed at scrape time). */
  reset(): void {
    this.series.clear();
  }

  render(): string {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, state } of this.series.values()) out.push(...this.lines(labels, state));
    return out.join('\n') + '\n';
  }

  private pick(labels: Labels): Labels {
    const out: Record<string, string> = {};
    for (const n of this.labelNames) out[n] = labels[n] ?? '';
    return out;
  }
}

export class Counter extends Metric<{ value: number }> {
  readonly type = 'counter';
  protected fresh() { return { value: 0 }; }

  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
    this.at(labels).value += by;
  }

  /** One series, looked up once: for hot paths that count the same labels again and again. */
  child(labels?: Labels): { inc(by?: number): void } {
    const state = this.at(labels);
    const name = this.name;
    return {
      inc(by = 1) {
        if (by < 0) throw new Error(`counter ${name} cannot decrease`);
        state.value += by;
      },
    };
  }

  /** The current value of one series (tests, status API). */
  get(labels?: Labels): number {
    return this.at(labels).value;
  }

  protected lines(labels: Labels, s: { value: number }): string[] {
    return [`${this.name}${formatLabels(labels)} ${formatNumber(s.value)}`];
  }
}

export class Gauge extends Metric<{ value: number }> {
  readonly type = 'gauge';
  protected fresh() { return { value: 0 }; }

  set(labels: Labels | undefined, value: number): void {
    this.at(labels).value = value;
  }

  inc(labels?: Labels, by = 1): void {
    this.at(labels).value += by;
  }

  dec(labels?: Labels, by = 1): void {
    this.at(labels).value -= by;
  }

  get(labels?: Labels): number {
    return this.at(labels).value;
  }

  protected lines(labels: Labels, s: { value: number }): string[] {
    return [`${this.name}${formatLabels(labels)} ${formatNumber(s.value)}`];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(o: MetricOptions & { buckets?: readonly number[] }) {
    super(o);
    this.buckets = [...(o.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
  }

  protected fresh(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(labels: Labels | undefined, value: number): void {
    this.record(this.at(labels), value);
  }

  /** One series, looked up once: for hot paths that observe the same labels again and again. */
  child(labels?: Labels): { observe(value: number): void } {
    const state = this.at(labels);
    return { observe: (value) => this.record(state, value) };
  }

  private record(s: HistogramState, value: number): void {
    s.sum += value;
    s.count += 1;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= (b[i] as number)) {
        s.counts[i] = (s.counts[i] as number) + 1;
        return;
      }
    }
  }

  /** Observation count of one series. */
  count(labels?: Labels): number {
    return this.at(labels).count;
  }

  protected lines(labels: Labels, s: HistogramState): string[] {
    const out: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += s.counts[i] as number;
      out.push(`${this.name}_bucket${formatLabels({ ...labels, le: formatNumber(le) })} ${cumulative}`);
    });
    out.push(`${this.name}_bucket${formatLabels({ ...labels, le: '+Inf' })} ${s.count}`);
    out.push(`${this.name}_sum${formatLabels(labels)} ${formatNumber(s.sum)}`);
    out.push(`${this.name}_count${formatLabels(labels)} ${s.count}`);
    return out;
  }
}

/**
 * A metric whose values are read when it is rendered (process figures, connection counts): no
 * state between scrapes. `collect` returns one value, or a value per label set; it must be cheap.
 */
export class CollectedMetric {
  readonly labelNames: readonly string[];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly collect: () => number | undefined | Iterable<readonly [Labels, number]>,
    labelNames: readonly string[] = [],
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name '${name}'`);
    this.labelNames = labelNames;
  }

  /** Renders nothing when `collect` has no value (e.g. a /proc file this platform lacks) or throws. */
  render(): string {
    let values: number | undefined | Iterable<readonly [Labels, number]>;
    try {
      values = this.collect();
    } catch {
      return '';
    }
    if (values === undefined) return '';
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    if (typeof values === 'number') out.push(`${this.name} ${formatNumber(values)}`);
    else for (const [labels, v] of values) out.push(`${this.name}${formatLabels(labels)} ${formatNumber(v)}`);
    return out.join('\n') + '\n';
  }
}

/** Holds metrics and renders them; `beforeScrape` hooks refresh gauges that are read, not counted. */
interface Renderable {
  readonly name: string;
  render(): string;
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Renderable>();
  private readonly hooks: (() => void | Promise<void>)[] = [];

  counter(o: MetricOptions): Counter {
    return this.add(new Counter(o));
  }

  gauge(o: MetricOptions): Gauge {
    return this.add(new Gauge(o));
  }

  histogram(o: MetricOptions & { buckets?: readonly number[] }): Histogram {
    return this.add(new Histogram(o));
  }

  /** A metric read at render time (see CollectedMetric). */
  collected(o: { name: string; help: string; type: 'counter' | 'gauge'; labelNames?: readonly string[]; collect: () => number | undefined | Iterable<readonly [Labels, number]> }): CollectedMetric {
    return this.add(new CollectedMetric(o.name, o.help, o.type, o.collect, o.labelNames));
  }

  /** Runs before every render (e.g. to read the cache size). A failing hook is skipped. */
  beforeScrape(fn: () => void | Promise<void>): void {
    this.hooks.push(fn);
  }

  async render(): Promise<string> {
    for (const h of this.hooks) await Promise.resolve().then(h).catch(() => {});
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }

  private add<M extends Renderable>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
}

function seriesKey(labels: Labels): string {
  return Object.values(labels).join('\u0000');
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}
