// The built-in dashboard in a real browser: Debian's Chromium, headless, driven by
// playwright-core, against the real `coinrelay run` fed by the real `coinrelay simulate`.
// Nothing is mocked. Run by ctest (label browser) or by hand:
//   COINRELAY_BINARY=build/src/coinrelay node --test tests/browser/dashboard.test.mjs
//
// The simulated market moves every 2 s and the relay fetches every second, so the page can be
// compared with the simulator whenever no market step fell between the last fetch and the
// comparison (about half the time); the comparisons below poll until they agree.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const binary = path.resolve(process.env.COINRELAY_BINARY ?? path.join(root, 'build/src/coinrelay'));
const webDir = process.env.COINRELAY_WEB_DIR ?? path.join(root, 'web');
const screenshotDir = process.env.COINRELAY_SCREENSHOT_DIR ?? path.join(root, 'build/screenshots');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
// playwright-core is a devDependency of the dashboard (web/package.json): one lockfile, one
// `npm ci`, which the CMake build already runs.
const { chromium } = createRequire(path.join(webDir, 'package.json'))('playwright-core');

const FETCH_INTERVAL_S = 1;
const MARKET_STEP_S = 2;

const work = mkdtempSync(path.join(os.tmpdir(), 'coinrelay-browser-'));
const children = [];
let simUrl;
let relayUrl;
let context;
let page;
const requests = [];
const pageErrors = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(name, args) {
  const log = path.join(work, `${name}.log`);
  const fd = openSync(log, 'w');
  // coinrelay reads COINRELAY_* variables as configuration (and refuses unknown ones): the
  // processes under test get none of this shell's, only their flags.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('COINRELAY_')));
  const child = spawn(binary, args, { cwd: work, env, stdio: ['ignore', fd, fd] });
  child.logPath = log;
  child.on('error', (error) => (child.spawnError = error));
  children.push(child);
  return child;
}

/** Fails at once, with its output, when a process the test started is gone. */
function assertAlive(child) {
  if (child.spawnError) assert.fail(`cannot start ${binary}: ${child.spawnError.message}`);
  if (child.exitCode !== null || child.signalCode !== null) {
    assert.fail(`${path.basename(child.logPath, '.log')} exited (${child.exitCode ?? child.signalCode}):\n${readFileSync(child.logPath, 'utf8')}`);
  }
}

async function eventually(what, check, timeoutMs, stepMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      for (const child of children) assertAlive(child);
      last = await check();
      if (last === true || (last && last.ok)) return last;
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      last = error;
    }
    if (Date.now() > deadline) {
      assert.fail(`${what} did not happen within ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}

async function getJson(url, init) {
  const response = await fetch(url, init);
  assert.ok(response.ok, `${url}: ${response.status}`);
  return response.json();
}

/** The table as the page shows it: id, name, symbol, price (raw and shown), market cap. */
function readTable() {
  return page.$$eval('#quotes tbody tr', (rows) =>
    rows.map((tr) => ({
      id: tr.dataset.id,
      name: tr.querySelector('td.name span')?.textContent,
      symbol: tr.querySelector('td.symbol')?.textContent,
      price: Number(tr.querySelector('td.price')?.dataset.price),
      priceText: tr.querySelector('td.price')?.textContent,
      marketCap: Number(tr.querySelector('td.market-cap')?.dataset.marketCap),
      sparkPoints: Number(tr.querySelector('td.trend svg')?.dataset.points ?? 0),
      charted: tr.querySelector('input.chart-toggle')?.checked,
    })),
  );
}

function close(a, b) {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** The number a price cell shows, e.g. "$12,345.67" -> 12345.67, and how many decimals. */
function shown(text) {
  const digits = text.replace(/[^0-9.]/g, '');
  const decimals = digits.includes('.') ? digits.split('.')[1].length : 0;
  return { value: Number(digits), decimals };
}

/**
 * Counts the pixels of a chart's canvas near an RGB colour: proof that something was drawn in
 * that colour, not only that the chart object holds data.
 */
function countColor(selector, rgb) {
  return page.evaluate(
    ({ selector, rgb }) => {
      const canvas = document.querySelector(`${selector} canvas`);
      if (!canvas) return -1;
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 100 && Math.abs(data[i] - rgb[0]) < 24 && Math.abs(data[i + 1] - rgb[1]) < 24 && Math.abs(data[i + 2] - rgb[2]) < 24) count++;
      }
      return count;
    },
    { selector, rgb },
  );
}

function hexToRgb(hex) {
  const n = Number.parseInt(hex.replace('#', ''), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The price chart's series: coin, label, colour and how many points hold a value. */
function chartSeries() {
  return page.evaluate(() => window.coinrelayDashboard?.priceChart.drawn ?? []);
}

before(async () => {
  const simPort = await freePort();
  const relayPort = await freePort();
  simUrl = `http://127.0.0.1:${simPort}`;
  relayUrl = `http://127.0.0.1:${relayPort}`;
  start('simulate', ['simulate', '--listen', `127.0.0.1:${simPort}`, '--coins', '100', '--update-interval', String(MARKET_STEP_S)]);
  await eventually('the simulator answering', async () => (await fetch(`${simUrl}/api/v3/ping`)).ok, 10_000);
  // The public plan allows 5 calls a minute; a fetch every second needs a bigger budget.
  start('run', [
    'run',
    '--upstream', `${simUrl}/api/v3`,
    '--listen', `127.0.0.1:${relayPort}`,
    '--sqlite', path.join(work, 'coinrelay.db'),
    '--interval', String(FETCH_INTERVAL_S),
    '--top', '50',
    '--set', 'budget.calls_per_minute=600',
    '--set', 'budget.monthly_credits=100000000',
  ]);
  await eventually('coinrelay run ready', async () => (await fetch(`${relayUrl}/readyz`)).ok, 15_000);
  // A few market steps of history, so the lines have more than one point.
  await new Promise((resolve) => setTimeout(resolve, 3 * MARKET_STEP_S * 1000));

  const profile = mkdtempSync(path.join(work, 'chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${relayUrl}/`);
  await page.waitForFunction(() => window.coinrelayDashboard?.ready === true, null, { timeout: 20_000 });
});

after(async () => {
  await context?.close().catch(() => {});
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  if (process.exitCode) console.log(`logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

test('the table lists the simulated top coins with their simulated prices', { timeout: 60_000 }, async () => {
  await eventually('the table matching the simulator', async () => {
    const [market, rows] = await Promise.all([getJson(`${simUrl}/api/v3/coins/markets?vs_currency=usd&per_page=50&page=1`), readTable()]);
    if (rows.length !== 50) return { ok: false, rows: rows.length };
    for (let i = 0; i < market.length; i++) {
      const want = market[i];
      const got = rows[i];
      if (got.id !== want.id || got.name !== want.name || got.symbol !== want.symbol.toUpperCase() || !close(got.price, want.current_price)) {
        return { ok: false, rank: i + 1, want: [want.id, want.name, want.symbol, want.current_price], got: [got.id, got.name, got.symbol, got.price] };
      }
      // What the cell shows is that price, rounded to the digits shown.
      const { value, decimals } = shown(got.priceText);
      if (Math.abs(value - want.current_price) > 0.5 * 10 ** -decimals + 1e-12) return { ok: false, rank: i + 1, shown: got.priceText, want: want.current_price };
    }
    return { ok: true };
  }, 20_000);
});

test('a price change in the simulator reaches the page within one cycle', { timeout: 60_000 }, async () => {
  const target = 12345.67;
  const response = await fetch(`${simUrl}/_sim/price?id=bitcoin&usd=${target}`, { method: 'POST' });
  assert.equal(response.status, 200, await response.text());
  const changed = Date.now();
  // One fetch cycle, plus the stream and the page's render batching; a market step may have
  // moved the price a little since it was set.
  const budgetMs = FETCH_INTERVAL_S * 1000 + 2000;
  await eventually('bitcoin at about 12,345 on the page', async () => {
    const row = (await readTable()).find((r) => r.id === 'bitcoin');
    return { ok: Math.abs(row.price / target - 1) < 0.02 && /^\$12,\d{3}\.\d\d$/.test(row.priceText), price: row?.price, text: row?.priceText };
  }, budgetMs, 50);
  const elapsed = Date.now() - changed;
  console.log(`price change shown ${elapsed} ms after the simulator changed it (fetch interval ${FETCH_INTERVAL_S} s)`);
  assert.ok(elapsed <= budgetMs);
});

test('the charts render with data', { timeout: 60_000 }, async () => {
  // Price over time: the five largest coins by default, each a line with several points.
  const series = await eventually('five charted coins with history', async () => {
    const s = await chartSeries();
    return { ok: s.length === 5 && s.every((x) => x.points >= 2), series: s };
  }, 15_000);
  const rows = await readTable();
  assert.deepEqual(
    series.series.map((s) => s.label).sort(),
    rows.filter((r) => r.charted).map((r) => r.symbol).sort(),
  );
  for (const s of series.series) {
    const pixels = await countColor('#line-chart', hexToRgb(s.color));
    assert.ok(pixels > 50, `the ${s.label} line has ${pixels} pixels of ${s.color} in the canvas`);
  }

  // Top 10: the table's first ten by market cap rank, with their market caps, drawn as bars.
  await eventually('the bar chart matching the table', async () => {
    const table = (await readTable()).slice(0, 10);
    const bars = await page.evaluate(() => ({
      labels: window.coinrelayDashboard.topChart.labels,
      caps: Array.from(window.coinrelayDashboard.topChart.instance?.data[1] ?? []),
    }));
    const names = table.map((r) => (r.name.length > 18 ? `${r.name.slice(0, 17)}…` : r.name));
    const ok = JSON.stringify(bars.labels) === JSON.stringify(names) && bars.caps.every((c, i) => close(c, table[i].marketCap));
    return { ok, bars, names };
  }, 10_000);
  const barPixels = await countColor('#bar-chart', [75, 123, 236]);
  assert.ok(barPixels > 500, `bars: ${barPixels} pixels of the bar colour`);

  // Sparklines: every row has a trail of several prices (the history's, then the live ones).
  await eventually('a trail of several prices in every row', async () => {
    const trails = (await readTable()).map((r) => r.sparkPoints);
    return { ok: trails.every((n) => n >= 2), trails: trails.join(',') };
  }, 10_000);

  // What the relay saves, and health, from /v1/status.
  const panel = await eventually('the status panel filled', async () => {
    const p = await page.evaluate(() => ({
      clients: document.getElementById('client-requests').textContent,
      upstream: document.getElementById('upstream-calls').textContent,
      credits: document.getElementById('credits-left').textContent,
      health: document.getElementById('health-upstream').dataset.state,
      kafka: document.getElementById('health-kafka-text').textContent,
    }));
    return { ok: /^[\d,]+$/.test(p.clients) && Number(p.clients.replace(/,/g, '')) > 0 && /^[\d,]+$/.test(p.upstream) && p.health === 'ok', ...p };
  }, 10_000);
  assert.match(panel.credits, /^99,999,\d{3}$/, 'credits left of the 100,000,000 set for the test');
  assert.equal(panel.kafka, 'disabled');
});

test('a selected coin shows in the line chart', { timeout: 60_000 }, async () => {
  const rows = await readTable();
  const pick = rows.find((r) => !r.charted && r.id !== 'bitcoin');
  await page.click(`#quotes tr[data-id="${pick.id}"] input.chart-toggle`);
  const found = await eventually(`${pick.symbol} in the line chart`, async () => {
    const s = (await chartSeries()).find((x) => x.label === pick.symbol);
    return { ok: Boolean(s && s.points >= 2), series: s };
  }, 10_000);
  const pixels = await countColor('#line-chart', hexToRgb(found.series.color));
  assert.ok(pixels > 50, `${pick.symbol}: ${pixels} pixels of ${found.series.color}`);
  assert.ok(await page.$(`#coin-picker .chip[data-id="${pick.id}"]`), 'a chip for the coin');
  assert.match(new URL(page.url()).hash, new RegExp(`coins=[^&]*${pick.id}`));

  // The time range and the scale keep it charted.
  await page.click('#range button[data-range="15m"]');
  await page.selectOption('#scale', 'change');
  await eventually(`${pick.symbol} charted as % change over 15 minutes`, async () => {
    const s = (await chartSeries()).find((x) => x.label === pick.symbol);
    const mode = await page.evaluate(() => [window.coinrelayDashboard.priceChart.scaleMode, window.coinrelayDashboard.priceChart.range]);
    return { ok: Boolean(s && s.points >= 2) && mode[0] === 'change' && mode[1] === 15 * 60_000, mode, s };
  }, 10_000);
  await page.selectOption('#scale', 'log');
});

test('the page loads nothing from anywhere but coinrelay', async () => {
  const foreign = requests.filter((url) => !url.startsWith(relayUrl) && !url.startsWith('data:'));
  assert.deepEqual(foreign, []);
  assert.deepEqual(pageErrors, []);
});

test('writes a screenshot of the dashboard', { timeout: 30_000 }, async () => {
  mkdirSync(screenshotDir, { recursive: true });
  // Let the re-selected log view and the last quotes settle before the picture.
  await page.waitForTimeout(1500);
  const file = path.join(screenshotDir, 'dashboard.png');
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
});
