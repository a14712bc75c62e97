/** A uPlot time chart that follows `history.series`; uPlot draws on canvas and weighs ~50 KB minified. */
import { useEffect, useRef } from 'preact/hooks';
import type { JSX } from 'preact';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Line { label: string; color: string; values: () => (number | null)[] }

export function Chart({ title, times, lines, tick }: { title: string; times: () => number[]; lines: Line[]; tick: number }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    plot.current = new uPlot({
      width: Math.max(260, el.clientWidth), height: 180, title,
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2 }))],
      axes: [{}, { size: 50 }],
      // At least a five-minute window, so the first samples do not stretch over the whole axis.
      scales: { x: { time: true, range: (_u, min, max) => [Math.min(min, max - 300), max] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    }, data(), el);
    // uPlot's legend is a layout table (one row of swatches and values), not data.
    plot.current.root.querySelector('.u-legend')?.setAttribute('role', 'presentation');
    const onResize = (): void => plot.current?.setSize({ width: Math.max(260, el.clientWidth), height: 180 });
    window.addEventListener('resize', onResize);
    return () => { window.removeEventListener('resize', onResize); plot.current?.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { plot.current?.setData(data()); }, [tick]);
  function data(): uPlot.AlignedData {
    return [times(), ...lines.map((l) => l.values())] as uPlot.AlignedData;
  }
  return <figure class="chart" aria-label={title}><div ref={box} /></figure>;
}
