#!/usr/bin/env python3
"""Prints the latest price of each coin published by coinrelay on Kafka.

Reads the quote topic (docs/consuming.md) as its own consumer group, drops redelivered
messages by the contract's dedup key (id, vs_currency, last_updated), keeps the newest quote
per (id, vs_currency), and once no message came for IDLE_SECONDS prints one line per coin,
sorted: "<id> <vs_currency> <price> <last_updated>" (price "null" when CoinGecko had none),
and a summary on stderr. It waits up to 60 s to be assigned its partitions.

  pip install -r requirements.txt
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python3 latest_prices.py

Settings (environment): KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092), KAFKA_TOPIC (crypto-data),
KAFKA_GROUP_ID (team-example-python-latest-prices), IDLE_SECONDS (10).
"""

import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException

SCHEMA_VERSION = 1  # the only quote version this consumer understands
JOIN_TIMEOUT_SECONDS = 60  # a first group on a new cluster can take seconds to form


def main():
    brokers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = os.environ.get("KAFKA_TOPIC", "crypto-data")
    group = os.environ.get("KAFKA_GROUP_ID", "team-example-python-latest-prices")
    idle_seconds = float(os.environ.get("IDLE_SECONDS", "10"))

    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": group,
        # A new group starts at the oldest retained message instead of only new ones.
        "auto.offset.reset": "earliest",
    })
    started = time.monotonic()
    last_activity = None  # set once partitions are assigned: joining a group takes a while

    def on_assign(_consumer, _partitions):
        nonlocal last_activity
        last_activity = time.monotonic()

    consumer.subscribe([topic], on_assign=on_assign)

    seen = set()  # dedup keys; a long-running consumer would bound this (see the README)
    latest = {}  # (id, vs_currency) -> quote
    read = duplicates = skipped = 0
    try:
        while last_activity is None or time.monotonic() - last_activity < idle_seconds:
            message = consumer.poll(0.5)
            if last_activity is None and time.monotonic() - started > JOIN_TIMEOUT_SECONDS:
                sys.exit(f"latest_prices: no partition of {topic} assigned after "
                         f"{JOIN_TIMEOUT_SECONDS} s; check KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC")
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            last_activity = time.monotonic()
            read += 1
            quote = json.loads(message.value())
            if quote.get("schema_version") != SCHEMA_VERSION:
                skipped += 1  # a future version: read it from its own topic/field, never guess
                continue
            key = (quote["id"], quote["vs_currency"], quote["last_updated"])
            if key in seen:
                duplicates += 1  # at-least-once delivery, or the same quote fetched again
                continue
            seen.add(key)
            coin = (quote["id"], quote["vs_currency"])
            # last_updated is fixed-width ISO-8601 UTC, so string order is time order.
            if coin not in latest or latest[coin]["last_updated"] < quote["last_updated"]:
                latest[coin] = quote
    finally:
        consumer.close()  # commits the offsets read and leaves the group at once

    for (coin_id, currency), quote in sorted(latest.items()):
        price = "null" if quote["price"] is None else repr(quote["price"])
        print(f"{coin_id} {currency} {price} {quote['last_updated']}")
    print(f"read {read} messages, skipped {duplicates} duplicates, {len(latest)} coins"
          + (f", {skipped} of another schema_version" if skipped else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
