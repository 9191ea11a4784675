// A live line chart over time, drawn by uPlot.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

const COLORS = ['#1f6fb2', '#c2410c', '#15803d', '#7c3aed', '#b91c1c', '#0f766e', '#a16207'];

export function TimeChart(props: {
  title: string;
  /** Sample times, ms since the epoch. */
  times: number[];
  series: ChartSeries[];
  unit: string;
}): preact.JSX.Element {
  const { title, times, series, unit } = props;
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const labels = series.map((s) => s.label).join('\u0000');

  // The chart is built again when its series change, and only given new data otherwise.
  useEffect(() => {
    const element = holder.current;
    if (element === null) return undefined;
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: 200,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{}, { label: unit, size: 60 }],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          points: { show: false },
        })),
      ],
    };
    const chart = new uPlot(options, [[], ...series.map(() => [])], element);
    plot.current = chart;
    const resize = new ResizeObserver(() => {
      chart.setSize({ width: Math.max(element.clientWidth, 200), height: 200 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = undefined;
    };
  }, [labels, unit]);

  useEffect(() => {
    plot.current?.setData([times.map((t) => t / 1000), ...series.map((s) => s.values)]);
  });

  const enough = times.length >= 2;
  const last = series.map((s) => `${s.label}: ${String(s.values.at(-1) ?? '—')} ${unit}`);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div
        ref={holder}
        class="chart-canvas"
        aria-hidden="true"
        data-samples={times.length}
        hidden={!enough}
      />
      {!enough && <p class="status">Collecting samples…</p>}
      <p class="visually-hidden" aria-live="off">
        Latest: {last.join('; ')}
      </p>
    </figure>
  );
}
