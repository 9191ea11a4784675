/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format (version 0.0.4). Only what evdb's `/metrics` needs.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;

/** Which stores' series a reader of `/metrics` may see (the label `store`); all when absent. */
export type StoreFilter = (storeId: string) => boolean;

interface Metric {
  render(lines: string[], stores?: StoreFilter): void;
}

abstract class LabelledMetric<S> implements Metric {
  protected readonly series = new Map<string, { labels: string; store?: string; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly labelNames: readonly string[],
  ) {}

  protected seriesOf(labels: Labels | undefined): S {
    const key = this.labelNames.map((name) => labels?.[name] ?? '').join('\u0000');
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = {
        labels: renderLabels(this.labelNames, labels),
        store: labels?.store,
        state: this.initial(),
      };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  protected abstract initial(): S;
  protected abstract renderSeries(lines: string[], labels: string, state: S): void;

  render(lines: string[], stores?: StoreFilter): void {
    // A metric without labels is shown (at zero) before anything happened to it.
    if (this.labelNames.length === 0) this.seriesOf(undefined);
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const { labels, store, state } of this.series.values()) {
      if (store !== undefined && stores !== undefined && !stores(store)) continue;
      this.renderSeries(lines, labels, state);
    }
  }
}

export class Counter extends LabelledMetric<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'counter', labelNames);
  }
  inc(labels?: Labels, by = 1): void {
    this.seriesOf(labels).value += by;
  }
  protected initial(): { value: number } {
    return { value: 0 };
  }
  protected renderSeries(lines: string[], labels: string, state: { value: number }): void {
    lines.push(`${this.name}${labels} ${state.value}`);
  }
}

export class Gauge extends LabelledMetric<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'gauge', labelNames);
  }
  inc(labels?: Labels, by = 1): void {
    this.seriesOf(labels).value += by;
  }
  dec(labels?: Labels, by = 1): void {
    this.seriesOf(labels).value -= by;
  }
  protected initial(): { value: number } {
    return { value: 0 };
  }
  protected renderSeries(lines: string[], labels: string, state: { value: number }): void {
    lines.push(`${this.name}${labels} ${state.value}`);
  }
}

/** A value read at every scrape (memory in use, a count kept elsewhere). */
export class Sampled implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly sample: () => number,
  ) {}
  render(lines: string[]): void {
    lines.push(
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} ${this.type}`,
      `${this.name} ${this.sample()}`,
    );
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends LabelledMetric<HistogramState> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram', labelNames);
  }
  observe(value: number, labels?: Labels): void {
    const state = this.seriesOf(labels);
    state.sum += value;
    state.count += 1;
    // Counts are kept per bucket and summed at render: one increment per observation.
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    state.counts[i] = (state.counts[i] as number) + 1;
  }
  protected initial(): HistogramState {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }
  protected renderSeries(lines: string[], labels: string, state: HistogramState): void {
    const prefix = labels === '' ? '{' : `${labels.slice(0, -1)},`;
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += state.counts[i] as number;
      lines.push(`${this.name}_bucket${prefix}le="${le}"} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${prefix}le="+Inf"} ${state.count}`);
    lines.push(`${this.name}_sum${labels} ${state.sum}`);
    lines.push(`${this.name}_count${labels} ${state.count}`);
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  /** The text exposition of every metric; with `stores`, only those stores' series. */
  render(stores?: StoreFilter): string {
    const lines: string[] = [];
    for (const metric of this.metrics) metric.render(lines, stores);
    return lines.join('\n') + '\n';
  }
}

function renderLabels(names: readonly string[], labels: Labels | undefined): string {
  if (names.length === 0) return '';
  const parts = names.map((name) => `${name}="${escapeLabel(labels?.[name] ?? '')}"`);
  return `{${parts.join(',')}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
