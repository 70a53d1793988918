"""The calls the client test makes, once for every client library.

Each call is a path of CoinGecko's API with its query, as a user of the API would send it. From
that one description come the raw HTTP request (the compatibility check of the natively served
answers), the call of the official Python SDK (`coingecko-sdk`), of the official TypeScript SDK
(`@coingecko/coingecko-typescript`, same resource layout in camelCase) and of pycoingecko.

`native` marks the endpoints coinrelay answers from its own data: their answers are also
checked against CoinGecko's response schema and field order (tests/contract/coingecko_schema.py).
"""

import datetime

# Query parameters the SDKs type as numbers and booleans; the others are strings.
NUMBERS = {"per_page", "page", "from", "to"}


def typed(query):
    """The query as an SDK takes it: booleans and numbers typed, the rest strings."""
    out = {}
    for name, value in query.items():
        if value in ("true", "false"):
            out[name] = value == "true"
        elif name in NUMBERS:
            out[name] = int(value)
        else:
            out[name] = value
    return out


class Call:
    def __init__(self, name, path, query=None, sdk=None, args=(), pycoingecko=None, native=False,
                 renames=None):
        self.name = name
        self.path = path            # concrete: /coins/bitcoin/market_chart
        self.template = None        # set below: /coins/{id}/market_chart
        self.query = query or {}
        self.sdk = sdk              # "coins.market_chart.get" (Python SDK; TypeScript in camelCase)
        self.args = list(args)      # positional arguments before the query (path parameters)
        self.pycoingecko = pycoingecko  # method name; None when pycoingecko has none
        self.renames = renames or {}    # pycoingecko's names of query parameters
        self.native = native

    def python_sdk(self):
        """(method path, args, kwargs) for coingecko_sdk."""
        kwargs = {("from_" if k == "from" else k): v for k, v in typed(self.query).items()}
        return self.sdk, self.args, kwargs

    def typescript(self):
        """{method, args} for @coingecko/coingecko-typescript."""
        def camel(part):
            if part == "global_":
                return "global"
            if part == "get_id":
                return "getID"
            head, *rest = part.split("_")
            return head + "".join(p.capitalize() for p in rest)
        method = ".".join(camel(p) for p in self.sdk.split("."))
        args = list(self.args)
        if self.query:
            args.append(typed(self.query))
        return {"name": self.name, "method": method, "args": args}

    def pycoingecko_call(self):
        """(method name, args, kwargs) for pycoingecko, or None."""
        if self.pycoingecko is None:
            return None
        kwargs = {}
        for name, value in typed(self.query).items():
            kwargs[self.renames.get(name, name)] = value
        if self.pycoingecko == "get_price" and "ids" not in kwargs:
            kwargs["ids"] = ""  # pycoingecko requires ids; an empty one lets names/symbols work
        return self.pycoingecko, self.args, kwargs


def calls(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ten_days_ago = (now - datetime.timedelta(days=10)).strftime("%d-%m-%Y")
    from_s = str(int((now - datetime.timedelta(days=3)).timestamp()))
    to_s = str(int((now - datetime.timedelta(days=1)).timestamp()))
    price = dict(sdk="simple.price.get", pycoingecko="get_price", native=True)
    markets = dict(sdk="coins.markets.get", pycoingecko="get_coins_markets", native=True)
    listing = dict(sdk="coins.list.get", pycoingecko="get_coins_list", native=True)
    chart_renames = {"from": "from_timestamp", "to": "to_timestamp"}
    out = [
        # ------------------------------------------- natively served: every parameter
        Call("ping", "/ping", sdk="ping.get", pycoingecko="ping", native=True),
        Call("price: two ids, two currencies, every include flag, precision=full",
             "/simple/price", {"ids": "bitcoin,ethereum", "vs_currencies": "usd,eur",
                               "include_market_cap": "true", "include_24hr_vol": "true",
                               "include_24hr_change": "true", "include_last_updated_at": "true",
                               "precision": "full"}, **price),
        Call("price: include flags false, precision=3", "/simple/price",
             {"ids": "bitcoin,tether", "vs_currencies": "usd", "include_market_cap": "false",
              "include_24hr_vol": "false", "include_24hr_change": "false",
              "include_last_updated_at": "false", "precision": "3"}, **price),
        Call("price: names", "/simple/price",
             {"names": "Bitcoin,Solana", "vs_currencies": "usd"}, **price),
        Call("price: symbols, include_tokens=top", "/simple/price",
             {"symbols": "btc,eth", "include_tokens": "top", "vs_currencies": "gbp"},
             **price),
        Call("price: symbols, include_tokens=all", "/simple/price",
             {"symbols": "eth,usdt", "include_tokens": "all", "vs_currencies": "usd"},
             **price),
        Call("price: an untracked coin and a currency of CoinGecko's list", "/simple/price",
             {"ids": "simcoin-150,bitcoin", "vs_currencies": "jpy,sats"}, **price),
        Call("price: an unknown id is left out", "/simple/price",
             {"ids": "no-such-coin", "vs_currencies": "usd"}, **price),
        Call("price: an invalid currency", "/simple/price",
             {"ids": "bitcoin", "vs_currencies": "usdt"}, **price),
        Call("supported_vs_currencies", "/simple/supported_vs_currencies",
             sdk="simple.supported_vs_currencies.get", pycoingecko="get_supported_vs_currencies",
             native=True),
        Call("coins/list", "/coins/list", **listing),
        Call("coins/list: include_platform, status=active", "/coins/list",
             {"include_platform": "true", "status": "active"}, **listing),
        Call("coins/list: status=inactive is for paid plans", "/coins/list",
             {"status": "inactive"}, **listing),
        Call("markets: defaults (100 a page)", "/coins/markets", {"vs_currency": "usd"}, **markets),
        Call("markets: page 2 of 10 by volume, in eur", "/coins/markets",
             {"vs_currency": "eur", "order": "volume_desc", "per_page": "10", "page": "2"},
             **markets),
        Call("markets: 250 a page by id", "/coins/markets",
             {"vs_currency": "usd", "order": "id_asc", "per_page": "250"}, **markets),
        Call("markets: market_cap_asc", "/coins/markets",
             {"vs_currency": "usd", "order": "market_cap_asc", "per_page": "5"}, **markets),
        Call("markets: volume_asc", "/coins/markets",
             {"vs_currency": "usd", "order": "volume_asc", "per_page": "5"}, **markets),
        Call("markets: id_desc", "/coins/markets",
             {"vs_currency": "usd", "order": "id_desc", "per_page": "5"}, **markets),
        Call("markets: market_cap_desc", "/coins/markets",
             {"vs_currency": "usd", "order": "market_cap_desc", "per_page": "5"}, **markets),
        Call("markets: ids, sparkline, every time frame", "/coins/markets",
             {"vs_currency": "usd", "ids": "bitcoin,ethereum,tether", "sparkline": "true",
              "price_change_percentage": "1h,24h,7d,14d,30d,200d,1y"}, **markets),
        Call("markets: sparkline=false, one time frame", "/coins/markets",
             {"vs_currency": "usd", "ids": "solana", "sparkline": "false",
              "price_change_percentage": "24h"}, **markets),
        Call("markets: names, locale=ja", "/coins/markets",
             {"vs_currency": "usd", "names": "Bitcoin,Ethereum", "locale": "ja"}, **markets),
        Call("markets: symbols, include_tokens=all", "/coins/markets",
             {"vs_currency": "usd", "symbols": "btc,eth,usdc", "include_tokens": "all"},
             **markets),
        Call("markets: symbols, include_tokens=top", "/coins/markets",
             {"vs_currency": "usd", "symbols": "btc", "include_tokens": "top"}, **markets),
        Call("markets: category", "/coins/markets",
             {"vs_currency": "usd", "category": "layer-1", "per_page": "20"}, **markets),
        Call("markets: precision=2", "/coins/markets",
             {"vs_currency": "usd", "ids": "bitcoin,tether", "precision": "2"}, **markets),
        Call("markets: an untracked currency", "/coins/markets",
             {"vs_currency": "chf", "per_page": "3"}, **markets),
        Call("markets: an invalid currency", "/coins/markets", {"vs_currency": "usdt"},
             **markets),
        # ------------------------------------------------ other paths, native or relayed
        Call("coins/{id}", "/coins/bitcoin", sdk="coins.get_id", args=["bitcoin"],
             pycoingecko="get_coin_by_id", renames={}, query={}),
        Call("coins/{id}: every section off, sparkline on", "/coins/ethereum",
             {"localization": "false", "tickers": "false", "market_data": "true",
              "community_data": "false", "developer_data": "false", "sparkline": "true"},
             sdk="coins.get_id", args=["ethereum"], pycoingecko="get_coin_by_id"),
        Call("coins/{id}/market_chart", "/coins/bitcoin/market_chart",
             {"vs_currency": "usd", "days": "30"}, sdk="coins.market_chart.get",
             args=["bitcoin"], pycoingecko="get_coin_market_chart_by_id"),
        Call("coins/{id}/market_chart: a day, precision", "/coins/ethereum/market_chart",
             {"vs_currency": "eur", "days": "1", "precision": "2"},
             sdk="coins.market_chart.get", args=["ethereum"],
             pycoingecko="get_coin_market_chart_by_id"),
        Call("coins/{id}/market_chart/range", "/coins/bitcoin/market_chart/range",
             {"vs_currency": "usd", "from": from_s, "to": to_s},
             sdk="coins.market_chart.get_range", args=["bitcoin"],
             pycoingecko="get_coin_market_chart_range_by_id", renames=chart_renames),
        Call("coins/{id}/ohlc", "/coins/bitcoin/ohlc", {"vs_currency": "usd", "days": "7"},
             sdk="coins.ohlc.get", args=["bitcoin"], pycoingecko="get_coin_ohlc_by_id"),
        Call("coins/{id}/history", "/coins/bitcoin/history", {"date": ten_days_ago},
             sdk="coins.history.get", args=["bitcoin"], pycoingecko="get_coin_history_by_id"),
        Call("coins/{id}/tickers", "/coins/bitcoin/tickers", sdk="coins.tickers.get",
             args=["bitcoin"], pycoingecko="get_coin_ticker_by_id"),
        Call("global", "/global", sdk="global_.get", pycoingecko="get_global"),
        Call("search", "/search", {"query": "eth"}, sdk="search.get", pycoingecko="search"),
        Call("search/trending", "/search/trending", sdk="search.trending.get",
             pycoingecko="get_search_trending"),
        Call("exchange_rates", "/exchange_rates", sdk="exchange_rates.get",
             pycoingecko="get_exchange_rates"),
        Call("coins/categories", "/coins/categories", sdk="coins.categories.get",
             pycoingecko="get_coins_categories"),
        Call("coins/categories/list", "/coins/categories/list", sdk="coins.categories.get_list",
             pycoingecko="get_coins_categories_list"),
        Call("exchanges", "/exchanges", sdk="exchanges.get", pycoingecko="get_exchanges_list"),
        Call("exchanges/list", "/exchanges/list", sdk="exchanges.get_list",
             pycoingecko="get_exchanges_id_name_list"),
        Call("asset_platforms", "/asset_platforms", sdk="asset_platforms.get",
             pycoingecko="get_asset_platforms"),
        Call("nfts/list", "/nfts/list", sdk="nfts.get_list", pycoingecko="get_nfts_list"),
        Call("derivatives", "/derivatives", sdk="derivatives.get", pycoingecko="get_derivatives"),
        Call("derivatives/exchanges", "/derivatives/exchanges", sdk="derivatives.exchanges.get",
             pycoingecko="get_derivatives_exchanges"),
    ]
    for call in out:
        call.template = template_of(call.path)
    return out


def template_of(path):
    """/coins/bitcoin/market_chart -> /coins/{id}/market_chart (the description's path)."""
    parts = path.strip("/").split("/")
    fixed = {"list", "markets", "categories"}
    if parts[0] == "coins" and len(parts) > 1 and parts[1] not in fixed:
        parts[1] = "{id}"
    return "/" + "/".join(parts)
