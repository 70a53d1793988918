// The live quotes table: one row per coin by rank, updated in place as quotes arrive, with a
// sparkline of the coin's recent prices and a checkbox that puts the coin in the price chart.

import type { Point, Quote } from './api';
import { formatCompactMoney, formatPercent, formatPrice } from './format';
import type { Store } from './store';

const SVG = 'http://www.w3.org/2000/svg';

/** An inline SVG polyline: no chart instance per row, so 100 rows cost nothing. */
export function sparkline(points: Point[], width = 112, height = 28): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.classList.add('spark');
  if (points.length < 2) {
    svg.dataset.points = String(points.length);
    return svg;
  }
  const t0 = points[0][0];
  const t1 = points[points.length - 1][0];
  let lo = Infinity;
  let hi = -Infinity;
  for (const [, p] of points) {
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  const span = hi - lo || Math.abs(hi) || 1;
  const coords = points.map(([t, p]) => {
    const x = t1 === t0 ? width : ((t - t0) / (t1 - t0)) * (width - 2) + 1;
    const y = height - 2 - ((p - lo) / span) * (height - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', coords.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke-width', '1.5');
  svg.classList.add(points[points.length - 1][1] >= points[0][1] ? 'up' : 'down');
  svg.dataset.points = String(points.length);
  svg.appendChild(line);
  return svg;
}

interface Row {
  tr: HTMLTableRowElement;
  rank: HTMLTableCellElement;
  name: HTMLTableCellElement;
  symbol: HTMLTableCellElement;
  price: HTMLTableCellElement;
  cap: HTMLTableCellElement;
  change: HTMLTableCellElement;
  spark: HTMLTableCellElement;
  toggle: HTMLInputElement;
  shownPrice?: number | null;
  trailLength: number;
  trailEnd: number;
}

export class QuoteTable {
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly store: Store,
    private readonly isCharted: (id: string) => boolean,
    private readonly colorOf: (id: string) => string | undefined,
    private readonly onToggle: (id: string, on: boolean) => void,
  ) {}

  render(): void {
    const quotes = this.store.ranked();
    const wanted = new Set(quotes.map((q) => q.id));
    for (const [id, row] of this.rows) {
      if (!wanted.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    let previous: HTMLTableRowElement | null = null;
    for (const quote of quotes) {
      const row = this.rows.get(quote.id) ?? this.createRow(quote);
      this.update(row, quote);
      // Keep DOM order = rank order, moving only rows whose rank changed.
      const expected: Element | null = previous ? previous.nextElementSibling : this.body.firstElementChild;
      if (expected !== row.tr) this.body.insertBefore(row.tr, expected);
      previous = row.tr;
    }
  }

  /** Redraws the chart markers after the chart's coin selection changed. */
  refreshSelection(): void {
    for (const [id, row] of this.rows) {
      const on = this.isCharted(id);
      row.toggle.checked = on;
      row.tr.classList.toggle('charted', on);
      row.tr.style.setProperty('--coin-color', this.colorOf(id) ?? 'transparent');
    }
  }

  private createRow(quote: Quote): Row {
    const tr = document.createElement('tr');
    tr.dataset.id = quote.id;
    const cell = (className: string) => {
      const td = document.createElement('td');
      td.className = className;
      tr.appendChild(td);
      return td;
    };
    const rank = cell('rank num');
    const name = cell('name');
    const toggle = document.createElement('input');
    toggle.type = 'checkbox';
    toggle.className = 'chart-toggle';
    toggle.title = 'show in the price chart';
    toggle.setAttribute('aria-label', `show ${quote.name} in the price chart`);
    toggle.addEventListener('change', () => this.onToggle(quote.id, toggle.checked));
    const label = document.createElement('span');
    name.append(toggle, label);
    const row: Row = {
      tr,
      rank,
      name,
      symbol: cell('symbol'),
      price: cell('price num'),
      cap: cell('market-cap num'),
      change: cell('change num'),
      spark: cell('trend'),
      toggle,
      trailLength: -1,
      trailEnd: -1,
    };
    label.textContent = quote.name;
    this.rows.set(quote.id, row);
    const on = this.isCharted(quote.id);
    toggle.checked = on;
    tr.classList.toggle('charted', on);
    tr.style.setProperty('--coin-color', this.colorOf(quote.id) ?? 'transparent');
    return row;
  }

  private update(row: Row, quote: Quote): void {
    const currency = quote.vs_currency;
    row.rank.textContent = quote.market_cap_rank == null ? '' : String(quote.market_cap_rank);
    (row.name.lastElementChild as HTMLElement).textContent = quote.name;
    row.symbol.textContent = quote.symbol;
    if (row.shownPrice !== quote.price) {
      if (row.shownPrice != null && quote.price != null && row.shownPrice !== quote.price) {
        const up = quote.price > row.shownPrice;
        row.price.classList.remove('flash-up', 'flash-down');
        void row.price.offsetWidth; // restart the animation
        row.price.classList.add(up ? 'flash-up' : 'flash-down');
      }
      row.shownPrice = quote.price;
      row.price.textContent = formatPrice(quote.price, currency);
      row.price.dataset.price = quote.price == null ? '' : String(quote.price);
    }
    row.tr.dataset.lastUpdated = quote.last_updated;
    row.cap.textContent = formatCompactMoney(quote.market_cap, currency);
    row.cap.dataset.marketCap = quote.market_cap == null ? '' : String(quote.market_cap);
    row.change.textContent = formatPercent(quote.change_24h);
    row.change.classList.toggle('up', (quote.change_24h ?? 0) > 0);
    row.change.classList.toggle('down', (quote.change_24h ?? 0) < 0);
    const trail = this.store.trail(quote.id, currency);
    const end = trail.length ? trail[trail.length - 1][0] : 0;
    if (trail.length !== row.trailLength || end !== row.trailEnd) {
      row.trailLength = trail.length;
      row.trailEnd = end;
      row.spark.replaceChildren(sparkline(trail));
    }
  }
}
