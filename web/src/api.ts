// The relay's HTTP API as the dashboard uses it: /v1/quotes, /v1/stream, /v1/history and
// /v1/status, on the same origin that served the page.

/** A v1 quote document (src/model/quote_codec.cc); only the fields the dashboard reads. */
export interface Quote {
  schema_version: number;
  id: string;
  symbol: string;
  name: string;
  vs_currency: string;
  price: number | null;
  market_cap: number | null;
  market_cap_rank: number | null;
  volume_24h: number | null;
  change_24h: number | null;
  last_updated: string;
  timestamp: string;
  high_24h: number | null;
  low_24h: number | null;
}

export interface QuotesDoc {
  version: number;
  updated_at: string;
  count: number;
  quotes: Quote[];
}

export type Point = [number, number];

export interface HistoryDoc {
  id: string;
  vs_currency: string;
  prices: Point[];
}

export interface Status {
  client_requests: number;
  snapshot_version: number;
  quotes: number;
  stream_clients: number;
  role?: string;
  upstream_requests?: number;
  /** `run` only: the fetch cycles (the /healthz body). */
  upstream?: { status?: string; cycles?: number; failed_cycles?: number; last_cycle?: { error?: string } };
  kafka?: { state?: string };
  search?: { state?: string };
  /**
   * The month's upstream credits, where the process knows them (`run`: its own fetcher).
   * `left` is null without a monthly cap; the whole object is absent where credits are counted
   * by another process (`serve`), and the panel then shows "n/a".
   */
  credits?: { used?: number; monthly?: number; left?: number | null; month?: string };
}

// With team keys configured, the API refuses anonymous requests; a page opened as
// /?x_cg_demo_api_key=KEY passes the key on (EventSource cannot send headers, so the query
// parameter, which coinrelay accepts as CoinGecko does, is the one way for the stream).
const keyParams: [string, string][] = [];
{
  const own = new URLSearchParams(window.location.search);
  for (const name of ['x_cg_demo_api_key', 'x_cg_pro_api_key']) {
    const value = own.get(name);
    if (value) keyParams.push([name, value]);
  }
}

export function apiUrl(path: string, params: Record<string, string | number> = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) search.set(name, String(value));
  for (const [name, value] of keyParams) search.set(name, value);
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string, params: Record<string, string | number> = {}): Promise<T> {
  const response = await fetch(apiUrl(path, params), { headers: { accept: 'application/json' } });
  if (!response.ok) {
    let message = response.statusText;
    try {
      const body = await response.json();
      message = body?.error ?? body?.status?.error_message ?? message;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, `${path}: ${response.status} ${message}`);
  }
  return (await response.json()) as T;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows /v1/stream: the current snapshot first, then every new quote. EventSource reconnects
 * by itself after a drop; the server sends the snapshot again on every connection, so nothing
 * is missed.
 */
export function followStream(onQuote: (quote: Quote) => void, onState: (state: StreamState) => void): () => void {
  const source = new EventSource(apiUrl('/v1/stream'));
  source.addEventListener('open', () => onState('live'));
  source.addEventListener('error', () => onState(source.readyState === EventSource.CLOSED ? 'reconnecting' : 'connecting'));
  source.addEventListener('quote', (event) => {
    try {
      onQuote(JSON.parse((event as MessageEvent<string>).data) as Quote);
    } catch (error) {
      console.warn('coinrelay: undecodable quote event', error);
    }
  });
  return () => source.close();
}
