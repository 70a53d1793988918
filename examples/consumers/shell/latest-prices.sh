#!/usr/bin/env bash
# Prints the latest price of each coin published by coinrelay on Kafka, with kcat and jq.
#
# Reads the quote topic (docs/consuming.md) as its own consumer group, drops redelivered
# messages by the contract's dedup key (id, vs_currency, last_updated), keeps the newest quote
# per (id, vs_currency), and once no message came for IDLE_SECONDS prints one line per coin,
# sorted: "<id> <vs_currency> <price> <last_updated>" (price "null" when CoinGecko had none),
# and a summary on stderr. It waits up to 60 s for the first message.
#
#   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 ./latest-prices.sh
#
# Settings (environment): KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092), KAFKA_TOPIC (crypto-data),
# KAFKA_GROUP_ID (team-example-shell-latest-prices), IDLE_SECONDS (10).
# Needs kcat (1.7 or later, for zstd) and jq: apt-get install kcat jq.
set -euo pipefail

brokers=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}
topic=${KAFKA_TOPIC:-crypto-data}
group=${KAFKA_GROUP_ID:-team-example-shell-latest-prices}
idle=${IDLE_SECONDS:-10}

# -G: a balanced consumer group that commits its offsets; a new group starts at the oldest
# retained message (auto.offset.reset). -u: unbuffered, so each message arrives as it is read.
# The value is one line of compact JSON, so '%s\n' gives one message per line.
exec {feed}< <(exec kcat -b "$brokers" -G "$group" -X auto.offset.reset=earliest -q -u \
  -f '%s\n' "$topic")
kcat_pid=$!

# kcat never stops by itself in group mode: the loop ends when no line came for $idle seconds
# (read's timeout), then kcat gets SIGTERM, on which it commits and leaves the group. The first
# line may take up to 60 s: a first group on a new cluster can take seconds to form.
# jq streams (reduce inputs): memory follows the number of coins and keys, not of messages.
result=$(
  {
    wait_s=60
    while IFS= read -r -t "$wait_s" -u "$feed" line; do
      printf '%s\n' "$line"
      wait_s=$idle
    done || true
    kill -TERM "$kcat_pid" 2>/dev/null || true
  } | jq -n -r '
    reduce inputs as $q ({seen: {}, latest: {}, read: 0, duplicates: 0, skipped: 0};
      .read += 1
      | if $q.schema_version != 1 then .skipped += 1  # another version: never guess its shape
        else ([$q.id, $q.vs_currency, $q.last_updated] | tojson) as $key
        | if .seen[$key] then .duplicates += 1  # at-least-once, or fetched again unchanged
          else .seen[$key] = true
          | ([$q.id, $q.vs_currency] | tojson) as $coin
          # last_updated is fixed-width ISO-8601 UTC, so string order is time order.
          | if .latest[$coin] == null or .latest[$coin].last_updated < $q.last_updated
            then .latest[$coin] = $q else . end
          end
        end)
    | (.latest | [.[]] | sort_by([.id, .vs_currency]) | .[]
       | "\(.id) \(.vs_currency) \(.price // "null") \(.last_updated)"),
      "read \(.read) messages, skipped \(.duplicates) duplicates, \(.latest | length) coins"
        + (if .skipped > 0 then ", \(.skipped) of another schema_version" else "" end)'
)
wait "$kcat_pid" 2>/dev/null || true

printf '%s\n' "$result" | sed '$d'
printf '%s\n' "$result" | tail -n 1 >&2
