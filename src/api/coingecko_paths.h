#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coinrelay::api {

/// The lowest CoinGecko plan that has a path: demo (every plan, keyless included), paid or
/// enterprise (third_party/coingecko/openapi-v3.json's `plan`).
enum class PlanTier { Demo, Paid, Enterprise };
/// The tier of an `upstream.plan` value (public and demo are Demo; enterprise is Enterprise; the
/// other paid plans are Paid).
PlanTier tierOfPlan(std::string_view plan);
std::string_view nameOf(PlanTier tier);

enum class ParamIn { Path, Query };
/// The parameter's type as the OpenAPI description gives it.
enum class ParamType { String, Boolean, Number };

/// One documented parameter of a path.
struct PathParam {
  std::string name;
  ParamIn in = ParamIn::Query;
  ParamType type = ParamType::String;
  bool required = false;
  std::vector<std::string> enumeration;  ///< empty: any value of the parameter's grammar
  /// Not in openapi-v3.json but documented by CoinGecko's official SDKs (kSupplement in the .cc).
  bool supplement = false;
};

/// How coinrelay answers a path.
enum class Answering {
  Native,           ///< from coinrelay's own data (snapshot, universe): no upstream call
  NativeOrRelayed,  ///< from the snapshot when it holds the answer, else relayed
  History,          ///< from coinrelay's history when a handler is installed, else relayed
  Relayed,          ///< always relayed: coinrelay holds none of this data
};
std::string_view nameOf(Answering answering);

/// One GET path of CoinGecko's API v3, compiled from the OpenAPI description that is built into
/// the binary (third_party/coingecko/openapi-v3.json), so the table cannot drift from the file.
struct ApiPath {
  std::string templ;  ///< "/coins/{id}/market_chart", relative to /api/v3
  std::string operation_id;
  PlanTier plan = PlanTier::Demo;
  std::vector<PathParam> params;      ///< the file's order, then the supplement's
  std::vector<std::string> segments;  ///< templ split on '/', "{id}" for a path parameter
  Answering answering = Answering::Relayed;
  /// How long an upstream answer stays fresh: CoinGecko's cache period where it documents one
  /// (../shared FACTS §2.2), a chosen default elsewhere; by plan tier (paid plans are fresher).
  std::chrono::seconds ttl_paid{60};
  std::chrono::seconds ttl_public{300};
  std::string_view ttl_source;  ///< "CoinGecko docs" or "coinrelay default"

  const PathParam* param(std::string_view name) const;
  std::chrono::seconds ttl(PlanTier tier) const {
    return tier == PlanTier::Demo ? ttl_public : ttl_paid;
  }
};

/// Every path of the API, in the file's order (51 paths). Parsed once, on first use.
std::span<const ApiPath> apiPaths();
/// The path with this template, or nullptr.
const ApiPath* findPath(std::string_view templ);

/// A request path matched to a template: the path and its decoded path parameter values.
struct PathMatch {
  const ApiPath* path = nullptr;
  std::vector<std::pair<std::string, std::string>> values;  ///< name, decoded value
};
/// Matches `raw_path` (relative to /api/v3, still percent-encoded, e.g. "/coins/bitcoin") to a
/// template; literal segments win over parameters ("/coins/list" is not "/coins/{id}").
std::optional<PathMatch> matchPath(std::string_view raw_path);

/// The table of docs/serving.md: every path, its plan, how coinrelay answers it and for how
/// long an upstream answer is kept (a unit test fails when the doc differs).
std::string pathTableMarkdown();

/// The OpenAPI description built into the binary.
std::string_view openApiDescription();

}  // namespace coinrelay::api
