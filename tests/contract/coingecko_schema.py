"""CoinGecko's response schemas and field order, as a compatibility check of answers.

The schemas come from CoinGecko's API description (third_party/coingecko/openapi-v3.json), turned
into JSON Schema (draft 7) for the `jsonschema` validator: $ref into definitions, `nullable`
into a null type, OpenAPI's `example`/`examples` dropped. Where the description is known to be
wrong, the correction is made here, once, and says so (FACTS of CoinGecko's API):
  - several list answers (coins/markets, coins/categories, exchanges...) are typed as an object
    whose example is a list: they are validated as lists of that object;
  - coins/markets `roi` is typed as a string, but is null or {times, currency, percentage}, and
    its numbers and dates may be null (CoinGecko sends null for unknown figures);
  - simple/price is typed as one coin's fields, but is {coin id: {those fields}};
  - /global puts two members beside `data` (and its example under `date`); the API and its SDKs
    put everything under `data`.

The field order of the natively served answers is CoinGecko's own, as its examples
(tests/fixtures/coingecko/*.json, copies of CoinGecko's) show it: clients that print raw JSON or
map by position rely on it.

Used by tests/clients/clients_test.py; runs on Debian's python3-jsonschema (4.10).
"""

import copy
import json
import os

import jsonschema

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DESCRIPTION = os.path.join(ROOT, "third_party", "coingecko", "openapi-v3.json")
EXAMPLES = os.path.join(ROOT, "tests", "fixtures", "coingecko")

# CoinGecko's time frames of price_change_percentage, in the order it writes them.
TIME_FRAMES = ["1h", "24h", "7d", "14d", "30d", "200d", "1y"]


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class CoinGeckoSchemas:
    def __init__(self, description=DESCRIPTION):
        self.description = _load(description)
        self.components = self.description["components"]["schemas"]
        self.definitions = {name: self._convert(schema) for name, schema in self.components.items()}
        self._correct()
        markets_example = _load(os.path.join(EXAMPLES, "coins_markets.json"))
        keys = list(markets_example[0].keys())
        # The fixed fields end with last_updated; sparkline and changes come only on request.
        self.markets_fields = keys[: keys.index("last_updated") + 1]
        price_example = _load(os.path.join(EXAMPLES, "simple_price.json"))
        coin = next(iter(price_example.values()))
        vs = next(iter(coin))
        self.price_suffixes = [k[len(vs):] for k in coin if k.startswith(vs)]

    # -------------------------------------------------------------- OpenAPI -> JSON Schema

    def _convert(self, node):
        if isinstance(node, list):
            return [self._convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in ("example", "examples"):
                continue
            if key == "$ref":
                out["$ref"] = value.replace("#/components/schemas/", "#/definitions/")
            elif key == "properties":
                out["properties"] = {name: self._convert(v) for name, v in value.items()}
            else:
                out[key] = self._convert(value)
        if node.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"]
            out.pop("nullable", None)
        return out

    def _correct(self):
        d = self.definitions
        markets = d["CoinsMarkets"]
        for name, prop in markets["properties"].items():
            if prop.get("type") == "number":
                prop["type"] = ["number", "null"]
            elif name in ("ath_date", "atl_date"):
                prop["type"] = ["string", "null"]
        markets["properties"]["roi"] = {
            "type": ["object", "null"],
            "properties": {"times": {"type": "number"}, "currency": {"type": "string"},
                           "percentage": {"type": "number"}},
            "required": ["times", "currency", "percentage"],
        }
        markets["required"] = list(self.markets_fields_from_description())
        coin_fields = copy.deepcopy(d["SimplePrice"])
        coin_fields["additionalProperties"] = {"type": ["number", "null"]}
        d["SimplePrice"] = {"type": "object", "additionalProperties": coin_fields}
        d["CoinsList"]["items"]["required"] = ["id", "symbol", "name"]
        glob = d["Global"]
        data = glob["properties"]["data"]
        for moved in ("market_cap_change_percentage_24h_usd", "updated_at"):
            if moved in glob["properties"]:
                data["properties"][moved] = glob["properties"].pop(moved)
        glob["required"] = ["data"]

    def markets_fields_from_description(self):
        props = self.components["CoinsMarkets"]["properties"]
        names = list(props)
        return names[: names.index("last_updated") + 1]

    def response_schema(self, template):
        """The JSON Schema of the 200 answer of `template` ("/coins/markets")."""
        operation = self.description["paths"][template]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[1]
        schema = {"$ref": f"#/definitions/{name}"}
        original = self.components[name]
        if original.get("type") == "object" and isinstance(original.get("example"), list):
            schema = {"type": "array", "items": schema}
        return {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": self.definitions,
                **schema}

    def schema_problems(self, template, document):
        schema = self.response_schema(template)
        validator = jsonschema.Draft7Validator(schema)
        problems = []
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(document)"
            problems.append(f"{where}: {error.message[:200]}")
        return problems

    # ------------------------------------------------------------------------- field order

    def order_problems(self, template, query, document):
        """Fields of the natively served answers out of CoinGecko's order, missing or extra."""
        problems = []
        if template == "/coins/markets" and isinstance(document, list):
            asked = [f.strip().lower() for f in query.get("price_change_percentage", "").split(",")]
            expected = list(self.markets_fields)
            if str(query.get("sparkline", "")).lower() == "true":
                expected.append("sparkline_in_7d")
            expected += [f"price_change_percentage_{tf}_in_currency" for tf in TIME_FRAMES
                         if tf in asked]
            for i, row in enumerate(document):
                if isinstance(row, dict) and list(row) != expected:
                    problems.append(f"{i}: fields {list(row)} instead of {expected}")
                    break
        elif template == "/simple/price" and isinstance(document, dict):
            flags = {"_market_cap": "include_market_cap", "_24h_vol": "include_24hr_vol",
                     "_24h_change": "include_24hr_change"}
            currencies = [c.strip().lower() for c in query.get("vs_currencies", "").split(",")
                          if c.strip()]
            expected = []
            for vs in currencies:
                for suffix in self.price_suffixes:
                    if suffix == "" or str(query.get(flags[suffix], "")).lower() == "true":
                        expected.append(vs + suffix)
            if str(query.get("include_last_updated_at", "")).lower() == "true":
                expected.append("last_updated_at")
            for coin, fields in document.items():
                if isinstance(fields, dict) and list(fields) != expected:
                    problems.append(f"{coin}: fields {list(fields)} instead of {expected}")
                    break
        elif template == "/coins/list" and isinstance(document, list):
            expected = ["id", "symbol", "name"]
            if str(query.get("include_platform", "")).lower() == "true":
                expected.append("platforms")
            for i, row in enumerate(document):
                if isinstance(row, dict) and list(row) != expected:
                    problems.append(f"{i}: fields {list(row)} instead of {expected}")
                    break
            ids = [row.get("id") for row in document if isinstance(row, dict)]
            if ids != sorted(ids):
                problems.append("coins are not sorted by id")
        return problems
