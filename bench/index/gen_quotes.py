#!/usr/bin/env python3
"""Writes N distinct quote messages as `key<TAB>value` lines (the kcat -K'\t' input format).

Quote i is coin `coin-<i % coins>` at minute `i // coins`: every (id, vs_currency, last_updated)
is distinct, so N messages make exactly N documents. The values are full v1 documents byte for
byte as `coinrelay fetch` publishes them (its encoder's field order, number and date formats;
about 1 KB each).

With --bulk-dir DIR it also writes the same documents, in the same order, as prebuilt `_bulk`
bodies of --bulk-docs documents each (DIR/000001.ndjson, ...), every document with coinrelay's
id `<id>:<vs_currency>:<last_updated ms>`: what the engine's ceiling is measured with. The action
lines carry no `_index`: the bodies are posted to `/<index>/_bulk`."""
import argparse
import datetime
import os
import random
import sys

BASE_MS = 1718150400000  # 2024-06-12T00:00:00Z


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def num(x):
    """A double as coinrelay writes it (fmt's shortest round trip: 100.0 is `100`)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def quotes(count, coins, start, seed):
    """Yields (key, value, document id) for quotes start .. start + count - 1."""
    rng = random.Random(seed)
    ath_date = iso(BASE_MS - 86400000 * 900)
    atl_date = iso(BASE_MS - 86400000 * 3000)
    for i in range(start, start + count):
        coin = i % coins
        minute = i // coins
        last_updated = BASE_MS + minute * 60000 + coin % 60000
        price = round(1 + coin * 0.37 + rng.random(), 6)
        cap = int(price * 1e7 * (coins - coin))
        value = (
            f'{{"schema_version":1,"id":"coin-{coin}","symbol":"C{coin}",'
            f'"name":"Coin {coin}","vs_currency":"usd","price":{num(price)},"market_cap":{cap},'
            f'"market_cap_rank":{coin + 1},"volume_24h":{cap // 7},'
            f'"change_24h":{num(round(rng.uniform(-9, 9), 5))},'
            f'"last_updated":"{iso(last_updated)}","timestamp":"{iso(last_updated + 31000)}",'
            f'"image":"https://coin-images.coingecko.com/coins/images/{coin}/large/c.png",'
            f'"fully_diluted_valuation":{cap},"high_24h":{num(round(price * 1.03, 6))},'
            f'"low_24h":{num(round(price * 0.97, 6))},'
            f'"price_change_24h":{num(round(price * 0.01, 6))},"market_cap_change_24h":{cap // 100},'
            f'"market_cap_change_percentage_24h":1.77146,"circulating_supply":{num(cap / price)},'
            f'"total_supply":{num(cap / price)},"max_supply":null,"ath":{num(round(price * 2, 6))},'
            f'"ath_change_percentage":-50,"ath_date":"{ath_date}","atl":{num(round(price / 9, 6))},'
            f'"atl_change_percentage":800,"atl_date":"{atl_date}","roi":null,'
            # Read from /coins/markets: price and details fetched with the rest, at timestamp.
            f'"price_fetched":"{iso(last_updated + 31000)}",'
            f'"details_fetched":"{iso(last_updated + 31000)}"}}')
        yield f"coin-{coin}", value, f"coin-{coin}:usd:{last_updated}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--coins", type=int, default=2000)
    parser.add_argument("--start", type=int, default=0, help="index of the first quote")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bulk-dir", help="also write prebuilt _bulk bodies here")
    parser.add_argument("--bulk-docs", type=int, default=1000)
    args = parser.parse_args()
    out = sys.stdout
    body = []
    bodies = 0

    def flush():
        nonlocal bodies
        bodies += 1
        with open(os.path.join(args.bulk_dir, f"{bodies:06d}.ndjson"), "w") as f:
            f.write("".join(body))
        body.clear()

    if args.bulk_dir:
        os.makedirs(args.bulk_dir, exist_ok=True)
    for key, value, doc_id in quotes(args.count, args.coins, args.start, args.seed):
        out.write(f"{key}\t{value}\n")
        if args.bulk_dir:
            body.append(f'{{"index":{{"_id":"{doc_id}"}}}}\n{value}\n')
            if len(body) == args.bulk_docs:
                flush()
    if args.bulk_dir and body:
        flush()


if __name__ == "__main__":
    main()
