#!/usr/bin/env python3
"""Checks what a consumer example (examples/consumers/) printed against the upstream's prices.

  check_latest_prices.py MARKETS_JSON STDOUT_FILE STDERR_FILE --messages N --duplicates D

MARKETS_JSON is the simulator's /api/v3/coins/markets answer for the coins that were fetched
(a frozen market: the prices coinrelay published are exactly those). The example's stdout must be
one line per coin, "<id> <vs_currency> <price> <last_updated>", sorted by (id, vs_currency), with
each price equal as a double to the upstream's current_price and each last_updated equal to the
upstream's; its stderr must hold "read N messages, skipped D duplicates, C coins".
Standard library only. Exits 0 when everything matches, 1 otherwise.
"""

import argparse
import json
import re
import sys
from datetime import datetime

LINE = re.compile(r"^(\S+) ([a-z]+) (\S+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$")
SUMMARY = re.compile(r"read (\d+) messages, skipped (\d+) duplicates, (\d+) coins")


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("markets")
    parser.add_argument("stdout")
    parser.add_argument("stderr")
    parser.add_argument("--currency", default="usd")
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--duplicates", type=int, required=True)
    args = parser.parse_args()

    with open(args.markets, encoding="utf-8") as f:
        upstream = {coin["id"]: coin for coin in json.load(f)}
    with open(args.stdout, encoding="utf-8") as f:
        lines = f.read().splitlines()
    with open(args.stderr, encoding="utf-8") as f:
        errors = f.read()

    problems = []
    printed = []
    for number, line in enumerate(lines, 1):
        match = LINE.match(line)
        if not match:
            problems.append(f"stdout line {number} is not '<id> <vs_currency> <price> "
                            f"<last_updated>': {line!r}")
            continue
        coin_id, currency, price, last_updated = match.groups()
        printed.append((coin_id, currency))
        coin = upstream.get(coin_id)
        if coin is None:
            problems.append(f"{coin_id}: not a coin the upstream listed")
            continue
        if currency != args.currency:
            problems.append(f"{coin_id}: vs_currency {currency}, expected {args.currency}")
        expected = coin["current_price"]
        try:
            same = float(price) == expected if price != "null" else expected is None
        except ValueError:
            same = False
        if not same:
            problems.append(f"{coin_id}: price {price}, the upstream says {expected}")
        if instant(last_updated) != instant(coin["last_updated"]):
            problems.append(f"{coin_id}: last_updated {last_updated}, the upstream says "
                            f"{coin['last_updated']}")
    if printed != sorted(printed):
        problems.append("the lines are not sorted by (id, vs_currency)")
    if len(set(printed)) != len(printed):
        problems.append("a coin is printed twice")
    missing = sorted(set(upstream) - {coin_id for coin_id, _ in printed})
    if missing:
        problems.append(f"{len(missing)} coins missing from stdout: {', '.join(missing[:10])}")

    summary = SUMMARY.search(errors)
    if not summary:
        problems.append(f"no 'read N messages, skipped D duplicates, C coins' on stderr: "
                        f"{errors[-500:]!r}")
    else:
        read, duplicates, coins = map(int, summary.groups())
        if (read, duplicates, coins) != (args.messages, args.duplicates, len(upstream)):
            problems.append(f"stderr says read {read}, skipped {duplicates} duplicates, "
                            f"{coins} coins; expected {args.messages}, {args.duplicates}, "
                            f"{len(upstream)}")

    for problem in problems[:20]:
        print(f"  {problem}")
    if problems:
        print(f"  ({len(problems)} problems)" if len(problems) > 20 else "", end="")
        return 1
    print(f"  {len(printed)} prices and last_updated equal to the upstream's; "
          f"{args.messages} messages, {args.duplicates} duplicates skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
