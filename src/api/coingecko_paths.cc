#include "api/coingecko_paths.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <simdjson.h>

#include "api/embedded_openapi.h"  // third_party/coingecko/openapi-v3.json, by cmake/embed_files
#include "common/strings.h"

namespace coinrelay::api {

namespace {

using std::chrono::seconds;

/// Parameters CoinGecko's official SDKs (coingecko-sdk, @coingecko/coingecko-typescript) send
/// that the OpenAPI snapshot predates: without them a client using the SDK would be refused.
struct Supplement {
  std::string_view path;
  PathParam param;
};
const std::vector<Supplement>& supplements() {
  static const std::vector<Supplement> list = {
      {"/simple/price", {.name = "names"}},
      {"/simple/price", {.name = "symbols"}},
      {"/simple/price", {.name = "include_tokens", .enumeration = {"top", "all"}}},
      {"/coins/markets", {.name = "include_rehypothecated", .type = ParamType::Boolean}},
      {"/coins/{id}", {.name = "dex_pair_format", .enumeration = {"contract_address", "symbol"}}},
      {"/coins/{id}", {.name = "include_categories_details", .type = ParamType::Boolean}},
      {"/coins/{id}/tickers",
       {.name = "dex_pair_format", .enumeration = {"contract_address", "symbol"}}},
      {"/exchanges/{id}",
       {.name = "dex_pair_format", .enumeration = {"contract_address", "symbol"}}},
      {"/exchanges/{id}/tickers",
       {.name = "dex_pair_format", .enumeration = {"contract_address", "symbol"}}},
  };
  return list;
}

/// How each path is answered and how long an upstream answer stays fresh, in one table. The
/// periods marked "CoinGecko docs" are CoinGecko's documented cache periods ("Cache / Update
/// Frequency"); the others are coinrelay's choice: about how often such data changes, never
/// shorter than a minute for a paid plan or five for the others (the lists of ids, which change
/// a few times a day, longer). A path absent here is relayed with kMissing's periods, and a unit
/// test fails: every path of the file has its row.
struct Row {
  std::string_view templ;
  Answering answering;
  int ttl_paid_s;
  int ttl_public_s;
  bool documented;
};
constexpr Row kMissing{"", Answering::Relayed, 60, 300, false};
constexpr Row kRows[] = {
    {"/ping", Answering::Native, 0, 0, false},
    {"/simple/price", Answering::NativeOrRelayed, 20, 60, true},
    {"/simple/supported_vs_currencies", Answering::Native, 60, 300, true},
    {"/simple/token_price/{id}", Answering::Relayed, 20, 60, false},
    {"/coins/list", Answering::NativeOrRelayed, 300, 1800, true},
    {"/coins/markets", Answering::NativeOrRelayed, 45, 45, true},
    {"/global", Answering::Relayed, 600, 600, true},
    {"/coins/{id}/market_chart", Answering::History, 30, 30, true},
    {"/coins/{id}/market_chart/range", Answering::History, 30, 30, false},
    {"/coins/{id}/ohlc", Answering::History, 900, 900, false},
    {"/coins/{id}/ohlc/range", Answering::History, 900, 900, false},
    {"/coins/{id}", Answering::Relayed, 60, 300, false},
    {"/coins/{id}/tickers", Answering::Relayed, 60, 300, false},
    {"/coins/{id}/history", Answering::Relayed, 3600, 3600, false},
    {"/coins/{id}/contract/{contract_address}", Answering::Relayed, 60, 300, false},
    {"/coins/{id}/contract/{contract_address}/market_chart", Answering::Relayed, 30, 30, false},
    {"/coins/{id}/contract/{contract_address}/market_chart/range", Answering::Relayed, 30, 30,
     false},
    {"/coins/{id}/circulating_supply_chart", Answering::Relayed, 300, 300, false},
    {"/coins/{id}/circulating_supply_chart/range", Answering::Relayed, 300, 300, false},
    {"/coins/{id}/total_supply_chart", Answering::Relayed, 300, 300, false},
    {"/coins/{id}/total_supply_chart/range", Answering::Relayed, 300, 300, false},
    {"/coins/top_gainers_losers", Answering::Relayed, 300, 300, false},
    {"/coins/list/new", Answering::Relayed, 60, 300, false},
    {"/coins/categories/list", Answering::Relayed, 300, 1800, false},
    {"/coins/categories", Answering::Relayed, 300, 300, false},
    {"/asset_platforms", Answering::Relayed, 300, 1800, false},
    {"/token_lists/{asset_platform_id}/all.json", Answering::Relayed, 300, 1800, false},
    {"/exchanges", Answering::Relayed, 60, 300, false},
    {"/exchanges/list", Answering::Relayed, 300, 1800, false},
    {"/exchanges/{id}", Answering::Relayed, 60, 300, false},
    {"/exchanges/{id}/tickers", Answering::Relayed, 60, 300, false},
    {"/exchanges/{id}/volume_chart", Answering::Relayed, 300, 300, false},
    {"/exchanges/{id}/volume_chart/range", Answering::Relayed, 300, 300, false},
    {"/derivatives", Answering::Relayed, 30, 300, false},
    {"/derivatives/exchanges", Answering::Relayed, 60, 300, false},
    {"/derivatives/exchanges/{id}", Answering::Relayed, 30, 300, false},
    {"/derivatives/exchanges/list", Answering::Relayed, 300, 1800, false},
    {"/nfts/list", Answering::Relayed, 300, 1800, false},
    {"/nfts/{id}", Answering::Relayed, 60, 300, false},
    {"/nfts/{asset_platform_id}/contract/{contract_address}", Answering::Relayed, 60, 300, false},
    {"/nfts/markets", Answering::Relayed, 60, 300, false},
    {"/nfts/{id}/market_chart", Answering::Relayed, 300, 300, false},
    {"/nfts/{asset_platform_id}/contract/{contract_address}/market_chart", Answering::Relayed, 300,
     300, false},
    {"/nfts/{id}/tickers", Answering::Relayed, 30, 300, false},
    {"/exchange_rates", Answering::Relayed, 300, 300, false},
    {"/search", Answering::Relayed, 900, 900, false},
    {"/search/trending", Answering::Relayed, 600, 600, false},
    {"/global/decentralized_finance_defi", Answering::Relayed, 600, 600, false},
    {"/global/market_cap_chart", Answering::Relayed, 300, 300, false},
    {"/companies/public_treasury/{coin_id}", Answering::Relayed, 300, 300, false},
    {"/key", Answering::Relayed, 30, 30, false},
};

const Row& rowOf(std::string_view templ) {
  for (const Row& row : kRows) {
    if (row.templ == templ)
      return row;
  }
  return kMissing;
}

std::vector<std::string> split(std::string_view templ) {
  std::vector<std::string> out;
  size_t start = 1;  // after the leading '/'
  while (start <= templ.size()) {
    size_t end = templ.find('/', start);
    if (end == std::string_view::npos)
      end = templ.size();
    out.emplace_back(templ.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

ParamType typeOf(std::string_view type) {
  if (type == "boolean")
    return ParamType::Boolean;
  if (type == "number" || type == "integer")
    return ParamType::Number;
  return ParamType::String;
}

/// The file is part of the build: a failure to read it is a broken build, not a runtime
/// condition, so it stops the process with the reason (a unit test parses it on every run).
[[noreturn]] void brokenBuild(std::string_view why) {
  std::fprintf(stderr, "coinrelay: the built-in CoinGecko OpenAPI description is unusable: %.*s\n",
               static_cast<int>(why.size()), why.data());
  std::abort();
}

std::vector<ApiPath> compile() {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(openApiDescription())).get(root) != simdjson::SUCCESS)
    brokenBuild("not JSON");
  simdjson::dom::object paths;
  if (root["paths"].get(paths) != simdjson::SUCCESS)
    brokenBuild("no paths");
  std::vector<ApiPath> out;
  for (auto [templ, node] : paths) {
    ApiPath path;
    path.templ = std::string(templ);
    std::string_view plan, operation;
    if (node["plan"].get(plan) != simdjson::SUCCESS ||
        node["operationId"].get(operation) != simdjson::SUCCESS)
      brokenBuild(path.templ + ": no plan or operationId");
    path.operation_id = std::string(operation);
    path.plan = plan == "enterprise" ? PlanTier::Enterprise
                : plan == "paid"     ? PlanTier::Paid
                                     : PlanTier::Demo;
    simdjson::dom::array params;
    if (node["parameters"].get(params) != simdjson::SUCCESS)
      brokenBuild(path.templ + ": no parameters");
    for (auto item : params) {
      PathParam param;
      std::string_view name, in, type;
      bool required = false;
      if (item["name"].get(name) != simdjson::SUCCESS || item["in"].get(in) != simdjson::SUCCESS)
        brokenBuild(path.templ + ": a parameter without name or in");
      param.name = std::string(name);
      param.in = in == "path" ? ParamIn::Path : ParamIn::Query;
      if (item["required"].get(required) == simdjson::SUCCESS)
        param.required = required;
      if (item["schema"]["type"].get(type) == simdjson::SUCCESS)
        param.type = typeOf(type);
      simdjson::dom::array values;
      if (item["schema"]["enum"].get(values) == simdjson::SUCCESS) {
        for (auto value : values) {
          std::string_view text;
          if (value.get(text) == simdjson::SUCCESS)
            param.enumeration.emplace_back(text);
        }
      }
      path.params.push_back(std::move(param));
    }
    for (const auto& supplement : supplements()) {
      if (supplement.path == path.templ) {
        path.params.push_back(supplement.param);
        path.params.back().supplement = true;
      }
    }
    // CoinGecko's SDKs and docs: simple/price takes ids, names or symbols (priority in that
    // order), so ids alone is no longer required there.
    if (path.templ == "/simple/price") {
      for (auto& param : path.params) {
        if (param.name == "ids")
          param.required = false;
      }
    }
    path.segments = split(path.templ);
    const Row& row = rowOf(path.templ);
    path.answering = row.answering;
    path.ttl_paid = seconds(row.ttl_paid_s);
    path.ttl_public = seconds(row.ttl_public_s);
    path.ttl_source = &row == &kMissing ? "no row in kRows"
                      : row.documented  ? "CoinGecko docs"
                                        : "coinrelay default";
    out.push_back(std::move(path));
  }
  return out;
}

}  // namespace

PlanTier tierOfPlan(std::string_view plan) {
  if (plan == "public" || plan == "demo")
    return PlanTier::Demo;
  if (plan == "enterprise")
    return PlanTier::Enterprise;
  return PlanTier::Paid;
}

std::string_view nameOf(PlanTier tier) {
  switch (tier) {
    case PlanTier::Demo:
      return "demo";
    case PlanTier::Paid:
      return "paid";
    case PlanTier::Enterprise:
      return "enterprise";
  }
  return "demo";
}

std::string_view nameOf(Answering answering) {
  switch (answering) {
    case Answering::Native:
      return "native";
    case Answering::NativeOrRelayed:
      return "native, relayed when coinrelay's data lacks the answer";
    case Answering::History:
      return "native from history, relayed until then";
    case Answering::Relayed:
      return "relayed";
  }
  return "relayed";
}

std::string pathTableMarkdown() {
  std::string out =
      "| path | lowest plan | how coinrelay answers | kept for (paid / demo and keyless) |\n"
      "| --- | --- | --- | --- |\n";
  for (const ApiPath& path : apiPaths()) {
    std::string how(nameOf(path.answering));
    if (path.plan != PlanTier::Demo) {
      how += fmt::format("; refused (10005) when upstream.plan is below {}",
                         path.plan == PlanTier::Paid ? "a paid plan" : "enterprise");
    }
    const std::string kept = path.answering == Answering::Native && path.ttl_paid.count() == 0
                                 ? "—"
                                 : fmt::format("{} s / {} s ({})", path.ttl_paid.count(),
                                               path.ttl_public.count(), path.ttl_source);
    out += fmt::format("| `{}` | {} | {} | {} |\n", path.templ, nameOf(path.plan), how, kept);
  }
  return out;
}

std::string_view openApiDescription() {
  return openapi::kEmbeddedFiles[0].content;
}

const PathParam* ApiPath::param(std::string_view name) const {
  for (const auto& p : params) {
    if (p.name == name)
      return &p;
  }
  return nullptr;
}

std::span<const ApiPath> apiPaths() {
  static const std::vector<ApiPath> paths = compile();
  return paths;
}

const ApiPath* findPath(std::string_view templ) {
  for (const ApiPath& path : apiPaths()) {
    if (path.templ == templ)
      return &path;
  }
  return nullptr;
}

std::optional<PathMatch> matchPath(std::string_view raw_path) {
  if (!raw_path.starts_with('/'))
    return std::nullopt;
  // CoinGecko answers a path with one trailing slash as the path (pycoingecko sends every call
  // so); an empty segment anywhere else matches nothing.
  if (raw_path.size() > 1 && raw_path.ends_with('/'))
    raw_path.remove_suffix(1);
  const std::vector<std::string> raw = split(raw_path);
  std::optional<PathMatch> best;
  size_t best_literals = 0;
  for (const ApiPath& path : apiPaths()) {
    if (path.segments.size() != raw.size())
      continue;
    PathMatch match{&path, {}};
    size_t literals = 0;
    bool matches = true;
    for (size_t i = 0; i < raw.size() && matches; ++i) {
      const std::string& segment = path.segments[i];
      if (segment.starts_with('{')) {
        // A parameter may be followed by a literal suffix ("{asset_platform_id}" alone, or
        // "all.json" after it): only whole-segment parameters exist in the file.
        match.values.emplace_back(segment.substr(1, segment.size() - 2),
                                  percentDecode(raw[i], /*plus_is_space=*/false));
      } else if (percentDecode(raw[i], /*plus_is_space=*/false) == segment) {
        ++literals;
      } else {
        matches = false;
      }
    }
    if (matches && (!best || literals > best_literals)) {
      best = std::move(match);
      best_literals = literals;
    }
  }
  return best;
}

}  // namespace coinrelay::api
