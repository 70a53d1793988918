// Number formatting shared by the table, the charts and the status panel.

const priceFormats = new Map<string, Intl.NumberFormat>();

function currencyFormat(currency: string, digits: number, compact: boolean): Intl.NumberFormat {
  const key = `${currency}:${digits}:${compact}`;
  let format = priceFormats.get(key);
  if (!format) {
    try {
      format = new Intl.NumberFormat('en-US', {
        style: 'currency',
        currency: currency.toUpperCase(),
        notation: compact ? 'compact' : 'standard',
        minimumFractionDigits: compact ? 0 : Math.min(2, digits),
        maximumFractionDigits: digits,
      });
    } catch {
      // vs_currency is not an ISO 4217 code Intl knows (e.g. "sats"): plain number + code
      format = new Intl.NumberFormat('en-US', {
        notation: compact ? 'compact' : 'standard',
        maximumFractionDigits: digits,
      });
    }
    priceFormats.set(key, format);
  }
  return format;
}

/** Enough digits to see a move: 2 above 1, more for coins worth a fraction of a unit. */
function priceDigits(value: number): number {
  const magnitude = Math.abs(value);
  if (magnitude >= 1) return 2;
  if (magnitude >= 0.01) return 4;
  if (magnitude >= 0.0001) return 6;
  return 10;
}

export function formatPrice(value: number | null | undefined, currency: string): string {
  if (value == null || !Number.isFinite(value)) return '–';
  return currencyFormat(currency, priceDigits(value), false).format(value);
}

export function formatCompactMoney(value: number | null | undefined, currency: string): string {
  if (value == null || !Number.isFinite(value)) return '–';
  return currencyFormat(currency, 2, true).format(value);
}

export function formatPercent(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–';
  const sign = value > 0 ? '+' : '';
  return `${sign}${value.toFixed(2)} %`;
}

const countFormat = new Intl.NumberFormat('en-US');
export function formatCount(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '–';
  return countFormat.format(value);
}

export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

/** "12 Jun", for axes spanning days. */
export function formatDay(ms: number): string {
  return new Date(ms).toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
}

/** One colour per coin in the charts: a fixed palette, readable on the dark background. */
export const palette = [
  '#f7b731', '#4b7bec', '#26de81', '#fc5c65', '#a55eea',
  '#2bcbba', '#fd9644', '#45aaf2', '#eb3b5a', '#d1d8e0',
  '#20bf6b', '#8854d0', '#fed330', '#0fb9b1', '#fa8231',
];
