// The latest quote of every coin, and a short price trail per coin for the sparklines, fed by
// /v1/quotes at load and by /v1/stream afterwards.

import type { Point, Quote } from './api';

const TRAIL_POINTS = 240;

export function quoteTime(quote: Quote): number {
  const ms = Date.parse(quote.last_updated);
  return Number.isFinite(ms) ? ms : Date.parse(quote.timestamp);
}

export class Store {
  currency = 'usd';
  private readonly quotes = new Map<string, Quote>();
  private readonly trails = new Map<string, Point[]>();
  private readonly currencies = new Set<string>();
  private readonly listeners: ((quote: Quote) => void)[] = [];

  private static key(id: string, currency: string): string {
    return `${id}:${currency}`;
  }

  onQuote(listener: (quote: Quote) => void): void {
    this.listeners.push(listener);
  }

  /** Takes a quote from the listing or the stream; older than the one held: ignored. */
  put(quote: Quote): void {
    const key = Store.key(quote.id, quote.vs_currency);
    const held = this.quotes.get(key);
    if (held && quoteTime(held) > quoteTime(quote)) return;
    this.quotes.set(key, quote);
    this.currencies.add(quote.vs_currency);
    if (quote.price != null) this.appendTrail(key, [quoteTime(quote), quote.price]);
    for (const listener of this.listeners) listener(quote);
  }

  get(id: string, currency = this.currency): Quote | undefined {
    return this.quotes.get(Store.key(id, currency));
  }

  currencyList(): string[] {
    return [...this.currencies].sort((a, b) => (a === 'usd' ? -1 : b === 'usd' ? 1 : a.localeCompare(b)));
  }

  /** The coins of the selected currency by market cap rank (CoinGecko's), largest first. */
  ranked(currency = this.currency): Quote[] {
    const list: Quote[] = [];
    for (const quote of this.quotes.values()) if (quote.vs_currency === currency) list.push(quote);
    return list.sort(
      (a, b) =>
        (a.market_cap_rank ?? Number.MAX_SAFE_INTEGER) - (b.market_cap_rank ?? Number.MAX_SAFE_INTEGER) ||
        (b.market_cap ?? 0) - (a.market_cap ?? 0) ||
        a.id.localeCompare(b.id),
    );
  }

  trail(id: string, currency = this.currency): Point[] {
    return this.trails.get(Store.key(id, currency)) ?? [];
  }

  /** Merges history (from /v1/history) under the live points already held. */
  seedTrail(id: string, currency: string, points: Point[]): void {
    const key = Store.key(id, currency);
    const merged = new Map<number, number>(points);
    for (const [t, p] of this.trails.get(key) ?? []) merged.set(t, p);
    const sorted = [...merged.entries()].sort((a, b) => a[0] - b[0]);
    this.trails.set(key, sorted.slice(-TRAIL_POINTS));
  }

  private appendTrail(key: string, point: Point): void {
    let trail = this.trails.get(key);
    if (!trail) this.trails.set(key, (trail = []));
    const last = trail[trail.length - 1];
    if (last && last[0] >= point[0]) {
      if (last[0] === point[0]) last[1] = point[1];
      return;
    }
    trail.push(point);
    if (trail.length > TRAIL_POINTS) trail.splice(0, trail.length - TRAIL_POINTS);
  }
}
