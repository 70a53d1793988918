// The top 10 coins by market cap as horizontal bars (uPlot with its x scale turned vertical:
// ori 1, and running downwards: dir -1), largest on top, each bar labelled with its value.

import uPlot from 'uplot';
import type { Quote } from './api';
import { formatCompactMoney } from './format';

const TOP = 10;
const AXIS_FONT = '12px system-ui, sans-serif';

let measure: CanvasRenderingContext2D | null = null;
function textWidth(text: string): number {
  measure ??= document.createElement('canvas').getContext('2d');
  if (!measure) return text.length * 7;
  measure.font = AXIS_FONT;
  return measure.measureText(text).width;
}

export class TopChart {
  private plot: uPlot | null = null;
  private names: string[] = [];
  private currency = 'usd';
  private signature = '';

  constructor(private readonly container: HTMLElement) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
  }

  get instance(): uPlot | null {
    return this.plot;
  }

  /** The coins shown, in order (the browser tests compare them with the table). */
  get labels(): string[] {
    return this.names.slice();
  }

  update(ranked: Quote[], currency: string): void {
    const top = ranked.filter((q) => q.market_cap != null).slice(0, TOP);
    const caps = top.map((q) => q.market_cap as number);
    const signature = `${currency}|${top.map((q) => `${q.id}:${q.market_cap}`).join(',')}`;
    if (signature === this.signature) return;
    this.signature = signature;
    this.names = top.map((q) => (q.name.length > 18 ? `${q.name.slice(0, 17)}…` : q.name));
    const data: uPlot.AlignedData = [top.map((_, i) => i), caps];
    if (this.plot && currency === this.currency && this.plot.data[0].length === top.length) {
      this.plot.setData(data);
      return;
    }
    this.currency = currency;
    this.plot?.destroy();
    this.plot = new uPlot(this.options(), data, this.container);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(280, this.container.clientWidth), height: 360 };
  }

  private options(): uPlot.Options {
    const currency = this.currency;
    const axis = {
      stroke: '#9aa4b2',
      font: AXIS_FONT,
      ticks: { show: false },
    };
    const bars = uPlot.paths.bars!({ size: [0.72, 40], align: 0 });
    return {
      ...this.size(),
      legend: { show: false },
      cursor: { show: true, x: false, y: false, points: { show: false } },
      scales: {
        // x: the bar index, drawn top to bottom; y: the market cap, left to right from 0.
        x: { time: false, ori: 1, dir: -1, range: (_u, _min, max) => [-0.5, Math.max(max, TOP - 1) + 0.5] },
        y: { ori: 0, dir: 1, range: (_u, _min, max) => [0, max * 1.18] },
      },
      axes: [
        {
          ...axis,
          scale: 'x',
          side: 3,
          // As wide as the longest name, so no name runs under the bars.
          size: (_u, values) => (values?.length ? Math.ceil(Math.max(...values.map(textWidth))) + 16 : 40),
          gap: 14,
          grid: { show: false },
          splits: (u) => Array.from(u.data[0], (_, i) => i),
          values: (_u, splits) => splits.map((i) => this.names[i] ?? ''),
        },
        {
          ...axis,
          scale: 'y',
          side: 2,
          space: 64,
          grid: { stroke: 'rgba(255,255,255,0.06)', width: 1 },
          values: (_u, splits) => splits.map((v) => formatCompactMoney(v, currency)),
        },
      ],
      series: [
        {},
        {
          label: 'market cap',
          fill: 'rgba(75,123,236,0.75)',
          stroke: '#4b7bec',
          width: 1,
          paths: bars,
          points: { show: false },
        },
      ],
      hooks: {
        // Each bar's value at its end, so the chart reads without hovering: inside a bar long
        // enough to hold it, after it otherwise.
        draw: [
          (u) => {
            const { ctx } = u;
            const pad = 6 * devicePixelRatio;
            ctx.save();
            ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
            ctx.textBaseline = 'middle';
            const values = u.data[1];
            const zero = u.valToPos(0, 'y', true);
            for (let i = 0; i < u.data[0].length; i++) {
              const v = values[i];
              if (v == null) continue;
              const text = formatCompactMoney(v, currency);
              const end = u.valToPos(v, 'y', true);
              const y = u.valToPos(i, 'x', true);
              const inside = end - zero > ctx.measureText(text).width + 2 * pad;
              ctx.textAlign = inside ? 'right' : 'left';
              ctx.fillStyle = inside ? '#ffffff' : '#d1d8e0';
              ctx.fillText(text, inside ? end - pad : end + pad, y);
            }
            ctx.restore();
          },
        ],
      },
    };
  }
}
