// coinrelay's built-in dashboard: live quotes, price history, the top 10 and what the relay
// saves, all from the relay's own API on the same origin (no CDN, works offline).

import 'uplot/dist/uPlot.min.css';
import './style.css';

import { followStream, getJson, type HistoryDoc, type QuotesDoc, type StreamState } from './api';
import { formatClock, palette } from './format';
import { PriceChart, RANGES, type ScaleMode } from './priceChart';
import { StatusPanel } from './statusPanel';
import { Store } from './store';
import { QuoteTable } from './table';
import { TopChart } from './topChart';

const DEFAULT_COINS = 5;

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`dashboard markup lacks #${id}`);
  return found as T;
}

/** The view's state lives in the URL fragment, so a view can be bookmarked and shared. */
interface ViewState {
  coins: string[] | null; // null: the top DEFAULT_COINS once quotes are known
  range: string;
  scale: ScaleMode;
  currency: string | null;
}

function readView(): ViewState {
  const hash = new URLSearchParams(window.location.hash.slice(1));
  const coins = hash.get('coins');
  const range = hash.get('range') ?? '1h';
  const scale = hash.get('scale');
  return {
    coins: coins ? coins.split(',').filter(Boolean) : null,
    range: RANGES.some((r) => r.label === range) ? range : '1h',
    scale: scale === 'linear' || scale === 'change' ? scale : 'log',
    currency: hash.get('currency'),
  };
}

function writeView(view: ViewState): void {
  const hash = new URLSearchParams();
  if (view.coins) hash.set('coins', view.coins.join(','));
  hash.set('range', view.range);
  hash.set('scale', view.scale);
  if (view.currency) hash.set('currency', view.currency);
  history.replaceState(null, '', `#${hash.toString()}`);
}

const store = new Store();
const view = readView();
const colors = new Map<string, string>();
const colorOf = (id: string) => colors.get(id);
const charted = () => view.coins ?? [];

const priceChart = new PriceChart(byId('line-chart'));
const topChart = new TopChart(byId('bar-chart'));
const status = new StatusPanel();
const table = new QuoteTable(
  byId<HTMLTableElement>('quotes').tBodies[0],
  store,
  (id) => charted().includes(id),
  colorOf,
  (id, on) => setCoins(on ? [...charted(), id] : charted().filter((c) => c !== id)),
);

function assignColors(ids: string[]): void {
  for (const id of [...colors.keys()]) if (!ids.includes(id)) colors.delete(id);
  const used = new Set(colors.values());
  for (const id of ids) {
    if (colors.has(id)) continue;
    const free = palette.find((c) => !used.has(c)) ?? palette[colors.size % palette.length];
    colors.set(id, free);
    used.add(free);
  }
}

function renderPicker(): void {
  const picker = byId('coin-picker');
  picker.replaceChildren(
    ...charted().map((id) => {
      const chip = document.createElement('button');
      chip.type = 'button';
      chip.className = 'chip';
      chip.dataset.id = id;
      chip.style.setProperty('--coin-color', colorOf(id) ?? '#888');
      chip.textContent = store.get(id)?.symbol ?? id;
      chip.title = `remove ${store.get(id)?.name ?? id} from the chart`;
      chip.addEventListener('click', () => setCoins(charted().filter((c) => c !== id)));
      return chip;
    }),
  );
  const hint = document.createElement('span');
  hint.className = 'muted hint';
  hint.textContent = charted().length ? 'tick coins in the table to add them' : 'tick coins in the table to chart them';
  picker.appendChild(hint);
}

async function setCoins(ids: string[]): Promise<void> {
  view.coins = [...new Set(ids)];
  writeView(view);
  assignColors(view.coins);
  renderPicker();
  table.refreshSelection();
  await priceChart.configure({
    currency: store.currency,
    coins: view.coins.map((id) => ({ id, symbol: store.get(id)?.symbol ?? id.toUpperCase(), color: colorOf(id) ?? '#888' })),
  });
}

let renderTimer = 0;
function scheduleRender(): void {
  if (renderTimer) return;
  renderTimer = window.setTimeout(() => {
    renderTimer = 0;
    render();
  }, 120);
}

let lastQuoteMs = 0;
function render(): void {
  const ranked = store.ranked();
  table.render();
  topChart.update(ranked, store.currency);
  byId('quote-count').textContent = `${ranked.length} coins in ${store.currency.toUpperCase()}`;
  if (lastQuoteMs) byId('updated').textContent = `last quote ${formatClock(lastQuoteMs)}`;
  renderCurrencies();
}

function renderCurrencies(): void {
  const select = byId<HTMLSelectElement>('currency');
  const list = store.currencyList();
  if (select.options.length === list.length && [...select.options].every((o, i) => o.value === list[i])) return;
  select.replaceChildren(...list.map((c) => new Option(c.toUpperCase(), c, false, c === store.currency)));
}

function setStreamState(state: StreamState): void {
  const badge = byId('live');
  badge.dataset.state = state;
  badge.textContent = state === 'live' ? 'live' : state;
}

/** Seeds the sparklines with the last 24 h, a few coins at a time. */
async function seedTrails(currency: string): Promise<void> {
  const ids = store.ranked(currency).map((q) => q.id);
  const now = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        const doc = await getJson<HistoryDoc>('/v1/history', { id, vs_currency: currency, from: now - 86_400_000, to: now + 60_000, points: 48 });
        store.seedTrail(id, currency, doc.prices);
      } catch {
        // the history backend may be absent (serve without Elasticsearch): live points only
        return;
      }
      scheduleRender();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function setupControls(): void {
  const range = byId('range');
  for (const option of RANGES) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = option.label;
    button.dataset.range = option.label;
    button.setAttribute('aria-pressed', String(option.label === view.range));
    button.addEventListener('click', () => {
      view.range = option.label;
      writeView(view);
      for (const b of range.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
      void priceChart.configure({ rangeMs: option.ms });
    });
    range.appendChild(button);
  }
  const scale = byId<HTMLSelectElement>('scale');
  scale.value = view.scale;
  scale.addEventListener('change', () => {
    view.scale = scale.value as ScaleMode;
    writeView(view);
    void priceChart.configure({ mode: view.scale });
  });
  byId<HTMLSelectElement>('currency').addEventListener('change', (event) => {
    store.currency = (event.target as HTMLSelectElement).value;
    view.currency = store.currency;
    writeView(view);
    render();
    void seedTrails(store.currency);
    void setCoins(charted());
  });
}

async function start(): Promise<void> {
  setupControls();
  status.follow(2000);
  try {
    const listing = await getJson<QuotesDoc>('/v1/quotes');
    for (const quote of listing.quotes) store.put(quote);
  } catch (error) {
    console.warn('coinrelay: /v1/quotes failed; waiting for the stream', error);
  }
  const currencies = store.currencyList();
  store.currency = view.currency && currencies.includes(view.currency) ? view.currency : (currencies[0] ?? 'usd');
  render();
  await priceChart.configure({ rangeMs: RANGES.find((r) => r.label === view.range)!.ms, mode: view.scale, currency: store.currency });
  await setCoins(view.coins ?? store.ranked().slice(0, DEFAULT_COINS).map((q) => q.id));
  followStream((quote) => {
    const fresh = !store.get(quote.id, quote.vs_currency);
    store.put(quote);
    priceChart.add(quote);
    lastQuoteMs = Math.max(lastQuoteMs, Date.parse(quote.timestamp) || 0);
    scheduleRender();
    // The first quotes can come from the stream when the listing was empty at load.
    if (fresh && !view.coins?.length && store.ranked().length >= DEFAULT_COINS) {
      void setCoins(store.ranked().slice(0, DEFAULT_COINS).map((q) => q.id));
    }
  }, setStreamState);
  void seedTrails(store.currency);
}

// For the browser tests and for debugging from the console: the live chart instances.
declare global {
  interface Window {
    coinrelayDashboard: { store: Store; priceChart: PriceChart; topChart: TopChart; status: StatusPanel; ready: boolean };
  }
}
window.coinrelayDashboard = { store, priceChart, topChart, status, ready: false };
void start().then(() => {
  window.coinrelayDashboard.ready = true;
});
