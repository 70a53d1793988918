// The official TypeScript SDK (@coingecko/coingecko-typescript) making the client test's calls,
// once against coinrelay and once against the simulator, with only the base URL changed.
// Reads {relay, upstream, key, module_dir, calls: [{name, method, args}]} on stdin and prints
// {name: {relay: outcome, upstream: outcome}}, an outcome being {value} or {status, body}.
// clients_test.py compares them.

import { createRequire } from 'node:module';
import path from 'node:path';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => (text += chunk));
  process.stdin.on('end', () => resolve(text));
}));

// The SDK lives in the build tree (tests/clients/install.sh), installed from the lockfile.
const require = createRequire(path.join(input.module_dir, 'package.json'));
const { Coingecko } = require('@coingecko/coingecko-typescript');

// `baseURL` alone: the SDK refuses it together with `environment`, and needs a key to send.
const clients = {
  relay: new Coingecko({ baseURL: input.relay, demoAPIKey: input.key, maxRetries: 0, timeout: 30_000 }),
  upstream: new Coingecko({ baseURL: input.upstream, demoAPIKey: input.key, maxRetries: 0, timeout: 30_000 }),
};

async function outcome(client, call) {
  const parts = call.method.split('.');
  let owner = client;
  for (const part of parts.slice(0, -1)) owner = owner[part];
  const fn = owner[parts.at(-1)];
  if (typeof fn !== 'function') return { 'no such method': call.method };
  try {
    return { value: await fn.apply(owner, call.args) };
  } catch (error) {
    if (error && typeof error.status === 'number') return { status: error.status, body: error.error ?? null };
    return { 'connection error': String(error) };
  }
}

const results = {};
for (const call of input.calls) {
  results[call.name] = {
    relay: await outcome(clients.relay, call),
    upstream: await outcome(clients.upstream, call),
  };
}
process.stdout.write(JSON.stringify(results));
