#!/usr/bin/env python3
"""Writes N distinct quote messages as `key<TAB>value` lines (the kcat -K'\t' input format).

Quote i is coin `coin-<i % coins>` at minute `i // coins`: every (id, vs_currency, last_updated)
is distinct, so N messages make exactly N documents. The values are full v1 documents, as
`coinrelay fetch` publishes them (about 1 KB each)."""
import argparse
import datetime
import random
import sys

BASE_MS = 1718150400000  # 2024-06-12T00:00:00Z


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--coins", type=int, default=2000)
    parser.add_argument("--start", type=int, default=0, help="index of the first quote")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    ath_date = iso(BASE_MS - 86400000 * 900)
    atl_date = iso(BASE_MS - 86400000 * 3000)
    for i in range(args.start, args.start + args.count):
        coin = i % args.coins
        minute = i // args.coins
        last_updated = BASE_MS + minute * 60000 + coin % 60000
        price = round(1 + coin * 0.37 + rng.random(), 6)
        cap = int(price * 1e7 * (args.coins - coin))
        out.write(
            f'coin-{coin}\t{{"schema_version":1,"id":"coin-{coin}","symbol":"C{coin}",'
            f'"name":"Coin {coin}","vs_currency":"usd","price":{price},"market_cap":{cap},'
            f'"market_cap_rank":{coin + 1},"volume_24h":{cap // 7},"change_24h":{round(rng.uniform(-9, 9), 5)},'
            f'"last_updated":"{iso(last_updated)}","timestamp":"{iso(last_updated + 31000)}",'
            f'"image":"https://coin-images.coingecko.com/coins/images/{coin}/large/c.png",'
            f'"fully_diluted_valuation":{cap},"high_24h":{round(price * 1.03, 6)},"low_24h":{round(price * 0.97, 6)},'
            f'"price_change_24h":{round(price * 0.01, 6)},"market_cap_change_24h":{cap // 100},'
            f'"market_cap_change_percentage_24h":1.77146,"circulating_supply":{cap / price:.6f},'
            f'"total_supply":{cap / price:.6f},"max_supply":null,"ath":{round(price * 2, 6)},'
            f'"ath_change_percentage":-50.0,"ath_date":"{ath_date}","atl":{round(price / 9, 6)},'
            f'"atl_change_percentage":800.0,"atl_date":"{atl_date}","roi":null}}\n')


if __name__ == "__main__":
    main()
