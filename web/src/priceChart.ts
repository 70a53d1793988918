// Price over time, one line per selected coin, from /v1/history (SQLite in `run`,
// Elasticsearch in `serve`), extended live by the stream. /v1/history reads the tier that fits
// the range (every observation for hours, 5-minute, hourly or daily windows beyond), so a year
// costs as few points as an hour. Prices of different coins differ by
// orders of magnitude, hence the log scale by default and a "% change in range" view.

import uPlot from 'uplot';
import { getJson, type HistoryDoc, type Point, type Quote } from './api';
import { formatClock, formatDay, formatPercent, formatPrice } from './format';
import { quoteTime } from './store';

export type ScaleMode = 'log' | 'linear' | 'change';

export const RANGES: { label: string; ms: number }[] = [
  { label: '15m', ms: 15 * 60_000 },
  { label: '1h', ms: 3_600_000 },
  { label: '6h', ms: 6 * 3_600_000 },
  { label: '24h', ms: 24 * 3_600_000 },
  { label: '7d', ms: 7 * 24 * 3_600_000 },
  { label: '30d', ms: 30 * 24 * 3_600_000 },
  { label: '90d', ms: 90 * 24 * 3_600_000 },
  { label: '1y', ms: 365 * 24 * 3_600_000 },
];

const HISTORY_POINTS = 400;

function latest(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
  return null;
}

export interface ChartCoin {
  id: string;
  symbol: string;
  color: string;
}

export class PriceChart {
  private plot: uPlot | null = null;
  private coins: ChartCoin[] = [];
  private readonly series = new Map<string, Point[]>();
  private rangeMs = RANGES[1].ms;
  private mode: ScaleMode = 'log';
  private currency = 'usd';
  private generation = 0;
  private pending = 0;
  private readonly empty: HTMLDivElement;

  constructor(private readonly container: HTMLElement) {
    this.empty = document.createElement('div');
    this.empty.className = 'empty';
    container.appendChild(this.empty);
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
  }

  /** The chart's uPlot instance (the browser tests read its data). */
  get instance(): uPlot | null {
    return this.plot;
  }

  /** What the chart draws, per coin: its label, colour and points with a value (for tests). */
  get drawn(): { id: string; label: string; color: string; points: number }[] {
    const plot = this.plot;
    if (!plot) return [];
    return this.coins.map((coin, i) => ({
      id: coin.id,
      label: String(plot.series[i + 1]?.label ?? ''),
      color: coin.color,
      points: ((plot.data[i + 1] ?? []) as (number | null)[]).filter((v) => v != null).length,
    }));
  }

  get range(): number {
    return this.rangeMs;
  }

  get scaleMode(): ScaleMode {
    return this.mode;
  }

  async configure(options: { coins?: ChartCoin[]; rangeMs?: number; mode?: ScaleMode; currency?: string }): Promise<void> {
    if (options.coins) this.coins = options.coins;
    if (options.rangeMs) this.rangeMs = options.rangeMs;
    if (options.mode) this.mode = options.mode;
    if (options.currency) this.currency = options.currency;
    await this.reload();
  }

  /** Appends a live quote of a charted coin. */
  add(quote: Quote): void {
    if (quote.vs_currency !== this.currency || quote.price == null) return;
    const points = this.series.get(quote.id);
    if (!points) return;
    const t = quoteTime(quote);
    const last = points[points.length - 1];
    if (last && last[0] >= t) return;
    points.push([t, quote.price]);
    const start = Date.now() - this.rangeMs;
    while (points.length > 1 && points[0][0] < start) points.shift();
    this.schedule();
  }

  private async reload(): Promise<void> {
    const generation = ++this.generation;
    const now = Date.now();
    const loaded = await Promise.all(
      this.coins.map(async (coin) => {
        try {
          const doc = await getJson<HistoryDoc>('/v1/history', {
            id: coin.id,
            vs_currency: this.currency,
            from: now - this.rangeMs,
            to: now + 60_000,
            points: HISTORY_POINTS,
          });
          return [coin.id, doc.prices] as const;
        } catch (error) {
          console.warn(`coinrelay: no history for ${coin.id}`, error);
          return [coin.id, [] as Point[]] as const;
        }
      }),
    );
    if (generation !== this.generation) return; // a newer selection won
    this.series.clear();
    for (const [id, points] of loaded) this.series.set(id, points.slice());
    this.rebuild(true);
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = window.setTimeout(() => {
      this.pending = 0;
      this.rebuild(false);
    }, 500);
  }

  private data(): uPlot.AlignedData {
    const tables: uPlot.AlignedData[] = this.coins.map((coin) => {
      const points = this.series.get(coin.id) ?? [];
      const xs = points.map((p) => p[0] / 1000);
      const base = points.length ? points[0][1] : 1;
      const ys = points.map((p) => (this.mode === 'change' ? (p[1] / base - 1) * 100 : p[1]));
      return [xs, ys];
    });
    if (!tables.length) return [[]];
    return uPlot.join(tables);
  }

  private rebuild(recreate: boolean): void {
    const data = this.data();
    const points = data[0].length;
    this.empty.textContent = !this.coins.length
      ? 'Pick coins in the table to chart them.'
      : points
        ? ''
        : 'No history in this range yet: the chart fills as quotes arrive.';
    this.empty.hidden = !this.empty.textContent;
    if (this.plot && !recreate) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plot = new uPlot(this.options(), data, this.container);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(300, this.container.clientWidth), height: 320 };
  }

  private options(): uPlot.Options {
    const currency = this.currency;
    const mode = this.mode;
    const valueText = (v: number | null) =>
      v == null ? '–' : mode === 'change' ? formatPercent(v) : formatPrice(v, currency);
    const axis = {
      stroke: '#9aa4b2',
      grid: { stroke: 'rgba(255,255,255,0.06)', width: 1 },
      ticks: { stroke: 'rgba(255,255,255,0.12)', width: 1 },
      font: '11px system-ui, sans-serif',
    };
    return {
      ...this.size(),
      cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: mode === 'log' ? { distr: 3 } : { distr: 1 },
      },
      axes: [
        {
          ...axis,
          values: (_u, splits) =>
            splits.map((s) =>
              this.rangeMs > 2 * 24 * 3_600_000 ? formatDay(s * 1000) : formatClock(s * 1000).slice(0, this.rangeMs > 6 * 3_600_000 ? 5 : 8),
            ),
        },
        {
          ...axis,
          size: 80,
          values: (_u, splits) => splits.map((v) => (mode === 'change' ? formatPercent(v) : formatPrice(v, currency))),
        },
      ],
      series: [
        { label: 'time', value: (_u, v) => (v == null ? 'latest' : new Date(v * 1000).toLocaleString('en-GB')) },
        ...this.coins.map((coin) => ({
          label: coin.symbol,
          stroke: coin.color,
          width: 2,
          spanGaps: true,
          points: { show: (u: uPlot) => u.data[0].length < 40, size: 5 },
          // Without a cursor on the chart, the legend shows each coin's latest value.
          value: (u: uPlot, v: number | null, si: number, idx: number | null) =>
            valueText(idx == null ? latest(u.data[si] as (number | null)[]) : v),
        })),
      ],
    };
  }
}
