#!/usr/bin/env node
// Prints the latest price of each coin published by coinrelay on Kafka.
//
// Reads the quote topic (docs/consuming.md) as its own consumer group, drops redelivered
// messages by the contract's dedup key (id, vs_currency, last_updated), keeps the newest quote
// per (id, vs_currency), and once no message came for IDLE_SECONDS prints one line per coin,
// sorted: "<id> <vs_currency> <price> <last_updated>" (price "null" when CoinGecko had none),
// and a summary on stderr. It waits up to 60 s to be assigned its partitions.
//
//   npm ci && KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 node latest-prices.js
//
// Settings (environment): KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092), KAFKA_TOPIC (crypto-data),
// KAFKA_GROUP_ID (team-example-node-latest-prices), IDLE_SECONDS (10).
'use strict';

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');
const fzstd = require('fzstd');

// coinrelay compresses batches with zstd (kafka.compression), which KafkaJS cannot read by
// itself. fzstd is a pure-JavaScript decoder: nothing native to build. A consumer never
// compresses, so only decompress is provided.
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress() {
    throw new Error('this consumer does not produce');
  },
  async decompress(buffer) {
    return Buffer.from(fzstd.decompress(buffer));
  },
});

const SCHEMA_VERSION = 1; // the only quote version this consumer understands
const JOIN_TIMEOUT_MS = 60000; // a first group on a new cluster can take seconds to form

async function main() {
  const brokers = (process.env.KAFKA_BOOTSTRAP_SERVERS || '127.0.0.1:9092').split(',');
  const topic = process.env.KAFKA_TOPIC || 'crypto-data';
  const groupId = process.env.KAFKA_GROUP_ID || 'team-example-node-latest-prices';
  const idleMs = Number(process.env.IDLE_SECONDS || '10') * 1000;

  // KafkaJS logs through console.info (stdout) at INFO; stdout is for the prices.
  const kafka = new Kafka({ clientId: groupId, brokers, logLevel: logLevel.WARN });
  // disconnect() lets the fetch in flight finish: a 1 s long poll (not 5 s) makes exit quick.
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 1000 });

  const seen = new Set(); // dedup keys; a long-running consumer would bound this (see README)
  const latest = new Map(); // "id vs_currency" -> quote
  let read = 0;
  let duplicates = 0;
  let skipped = 0;
  const started = Date.now();
  let lastActivity = null; // set once the group is joined: joining takes a while

  consumer.on(consumer.events.GROUP_JOIN, () => {
    lastActivity = Date.now();
  });
  const crashed = new Promise((_, reject) => {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) reject(payload.error); // KafkaJS restarts on retriable errors
    });
  });

  await consumer.connect();
  // fromBeginning: a new group starts at the oldest retained message instead of only new ones.
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      lastActivity = Date.now();
      read += 1;
      const quote = JSON.parse(message.value.toString('utf8'));
      if (quote.schema_version !== SCHEMA_VERSION) {
        skipped += 1; // a future version: read it from its own topic/field, never guess
        return;
      }
      const key = `${quote.id} ${quote.vs_currency} ${quote.last_updated}`;
      if (seen.has(key)) {
        duplicates += 1; // at-least-once delivery, or the same quote fetched again
        return;
      }
      seen.add(key);
      const coin = `${quote.id} ${quote.vs_currency}`;
      const previous = latest.get(coin);
      // last_updated is fixed-width ISO-8601 UTC, so string order is time order.
      if (!previous || previous.last_updated < quote.last_updated) latest.set(coin, quote);
    },
  });

  const idle = new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (lastActivity === null && Date.now() - started > JOIN_TIMEOUT_MS) {
        clearInterval(timer);
        reject(
          new Error(
            `no partition of ${topic} assigned after ${JOIN_TIMEOUT_MS / 1000} s; ` +
              'check KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC',
          ),
        );
      } else if (lastActivity !== null && Date.now() - lastActivity >= idleMs) {
        clearInterval(timer);
        resolve();
      }
    }, 200);
  });
  await Promise.race([idle, crashed]);
  await consumer.disconnect(); // commits the offsets read and leaves the group at once

  const coins = [...latest.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const coin of coins) {
    const quote = latest.get(coin);
    const price = quote.price === null ? 'null' : String(quote.price);
    process.stdout.write(`${coin} ${price} ${quote.last_updated}\n`);
  }
  process.stderr.write(
    `read ${read} messages, skipped ${duplicates} duplicates, ${latest.size} coins` +
      (skipped ? `, ${skipped} of another schema_version` : '') +
      '\n',
  );
}

main().catch((error) => {
  process.stderr.write(`latest-prices: ${error.stack || error}\n`);
  process.exit(1);
});
