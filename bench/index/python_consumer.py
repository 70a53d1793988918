#!/usr/bin/env python3
"""The seed's way of indexing, for comparison: a kafka-python consumer that sends each message
to the search engine with requests, either one POST /<index>/_doc per message (what the seed's
consumer does) or one POST /_bulk per 1000 messages. Stops after --max-docs documents or
--max-seconds, whichever comes first, and prints one JSON line: {"docs": N, "seconds": S}."""
import argparse
import datetime
import json
import time

import requests
from kafka import KafkaConsumer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--engine", required=True, help="http://host:port")
    parser.add_argument("--index", required=True)
    parser.add_argument("--mode", choices=["doc", "bulk"], required=True)
    parser.add_argument("--bulk-size", type=int, default=1000)
    parser.add_argument("--max-docs", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--ids", action="store_true",
                        help="bulk mode: give each document coinrelay's id "
                             "(<id>:<vs_currency>:<last_updated ms>) instead of an automatic one")
    args = parser.parse_args()

    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.brokers,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        value_deserializer=lambda v: json.loads(v.decode("utf-8")),
    )
    session = requests.Session()
    started = time.monotonic()
    sent = 0
    pending = []

    def action(doc):
        if not args.ids:
            return {"index": {"_index": args.index}}
        ms = int(datetime.datetime.fromisoformat(doc["last_updated"]).timestamp() * 1000)
        return {"index": {"_index": args.index, "_id": f'{doc["id"]}:{doc["vs_currency"]}:{ms}'}}

    def flush():
        body = "".join(json.dumps(action(doc)) + "\n" + json.dumps(doc) + "\n" for doc in pending)
        response = session.post(f"{args.engine}/_bulk", data=body,
                                headers={"Content-Type": "application/x-ndjson"})
        response.raise_for_status()
        pending.clear()

    while sent < args.max_docs and time.monotonic() - started < args.max_seconds:
        batches = consumer.poll(timeout_ms=500)
        for records in batches.values():
            for record in records:
                if sent >= args.max_docs or time.monotonic() - started >= args.max_seconds:
                    break
                if args.mode == "doc":
                    response = session.post(f"{args.engine}/{args.index}/_doc", json=record.value)
                    response.raise_for_status()
                else:
                    pending.append(record.value)
                    if len(pending) >= args.bulk_size:
                        flush()
                sent += 1
    if pending:
        flush()
    consumer.close()
    print(json.dumps({"docs": sent, "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main()
