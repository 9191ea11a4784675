import { performance } from 'node:perf_hooks';

/** Median and spread of repeated measurements of one workload (rates: higher is better). */
export interface Stats {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, as a percentage: how noisy the runs were. */
  spreadPct: number;
  runs: number;
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
  return {
    median,
    min,
    max,
    spreadPct: median === 0 ? 0 : ((max - min) / median) * 100,
    runs: values.length,
  };
}

/**
 * Runs `work` `runs` times and returns its rate in `units` per second for each run. `work`
 * returns how many units it did, so a run that did less than asked cannot look faster.
 */
export async function measureRate(
  runs: number,
  work: (run: number) => Promise<number> | number,
): Promise<Stats> {
  const rates: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const units = await work(run);
    const seconds = (performance.now() - start) / 1000;
    rates.push(units / seconds);
  }
  return stats(rates);
}

export interface Row {
  suite: string;
  workload: string;
  unit: string;
  evdb: Stats;
  /** What evdb is compared with in the same run (raw driver, or another workload). */
  baselineName: string;
  baseline: Stats;
  /**
   * The figure the issue asks for, if any: a median ratio evdb / baseline, an absolute median
   * rate of evdb, or both.
   */
  target?: { ratio?: number; rate?: number; label: string };
}

function fmtRate(value: number): string {
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(2)} M`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} k`;
  return value.toFixed(0);
}

function fmtStats(s: Stats): string {
  return `${fmtRate(s.median)} (±${(s.spreadPct / 2).toFixed(0)}%)`;
}

export function ratioOf(row: Row): number {
  return row.evdb.median / row.baseline.median;
}

export function targetMet(row: Row): boolean {
  const { target } = row;
  if (target === undefined) return true;
  return (
    (target.ratio === undefined || ratioOf(row) >= target.ratio) &&
    (target.rate === undefined || row.evdb.median >= target.rate)
  );
}

/** A Markdown table, the format BENCHMARKS.md records. */
export function formatTable(rows: Row[]): string {
  const lines = [
    '| suite | workload | evdb (median, ±half-spread) | baseline in the same run | ratio | target |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const ratio = ratioOf(row);
    const target =
      row.target === undefined
        ? '—'
        : `${row.target.label}: ${targetMet(row) ? 'met' : '**not met**'}`;
    lines.push(
      `| ${row.suite} | ${row.workload} | ${fmtStats(row.evdb)} ${row.unit} | ${row.baselineName}: ${fmtStats(row.baseline)} ${row.unit} | ${ratio.toFixed(2)} | ${target} |`,
    );
  }
  return lines.join('\n');
}

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Throws when a benchmark read back something other than what it expected. */
export function verify(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`benchmark verification failed: ${message}`);
}

export interface BenchOptions {
  /** Multiplies every size; `--quick` uses a small factor to check the benchmarks themselves. */
  scale: number;
  runs: number;
  /**
   * The parts of a suite to run (`--parts appends,ids,realistic,reads`), for suites that have
   * parts; all of them when absent.
   */
  parts?: string[];
}

/** Whether the run asked for this part of a suite. */
export function wants(options: BenchOptions, part: string): boolean {
  return options.parts === undefined || options.parts.includes(part);
}

export function scaled(options: BenchOptions, size: number): number {
  return Math.max(1, Math.round(size * options.scale));
}

/**
 * Measures two workloads in alternating runs (a, b, a, b, …) so that drift in the machine's
 * speed affects both alike; returns the rate statistics of each.
 */
export async function measurePair(
  runs: number,
  a: (run: number) => Promise<number> | number,
  b: (run: number) => Promise<number> | number,
): Promise<[Stats, Stats]> {
  const ratesA: number[] = [];
  const ratesB: number[] = [];
  for (let run = 0; run < runs; run++) {
    ratesA.push((await measureRate(1, () => a(run))).median);
    ratesB.push((await measureRate(1, () => b(run))).median);
  }
  return [stats(ratesA), stats(ratesB)];
}
