#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/json_writer.h"

// CoinGecko's OpenAPI description of API v3 (third_party/coingecko/openapi-v3.json, compiled in),
// read by the simulator's own code: the paths with their plan and parameters, and the response
// schemas it builds bodies from. Nothing here is shared with coinrelay's own reading of the same
// file: the simulator is the oracle coinrelay is compared against.

namespace coinrelay::simulate {

/// The lowest plan that has a path, and what a key gives access to.
enum class Plan { Demo, Paid, Enterprise };  // Demo: every plan, keyless included
std::optional<Plan> planNamed(std::string_view name);
std::string_view planName(Plan plan);

struct SpecParam {
  std::string name;
  bool in_path = false;
  bool required = false;
  std::string type;                  ///< "string", "number", "boolean"
  std::vector<std::string> choices;  ///< the enumeration, when the parameter has one
};

struct SpecPath {
  std::string templ;  ///< "/coins/{id}/market_chart", as the description writes it
  std::vector<std::string> segments;
  Plan plan = Plan::Demo;
  std::vector<SpecParam> params;
  simdjson::dom::element response;  ///< the 200 answer's schema
  int literals = 0;                 ///< segments that are not {parameters}
};

struct PathMatch {
  const SpecPath* path = nullptr;
  std::map<std::string, std::string> params;  ///< path parameters by name
};

/// What a value source does for one node of a schema walk.
enum class Supplied { Walk, Written, Omitted };
/// A model's values for a schema walk. `value` writes the value of the node at `where`
/// ("market_data.current_price", "tickers[]") when the model knows it, or says to walk the
/// schema, or to leave the property out. `append` may add members the description does not
/// list at the end of the object at `where` (CoinGecko's optional extras).
struct ValueSource {
  std::function<Supplied(std::string_view where, JsonWriter& w)> value;
  std::function<void(std::string_view where, JsonWriter& w)> append;
  explicit operator bool() const { return static_cast<bool>(value); }
};

/// Threading: immutable after construction; get() is safe from any thread.
class SimSpec {
 public:
  static const SimSpec& get();

  const std::vector<SpecPath>& paths() const { return paths_; }
  /// The path of the description `path` (after /api/v3, a trailing slash ignored) is an
  /// instance of; literal segments win over parameters (/coins/list over /coins/{id}).
  std::optional<PathMatch> match(std::string_view path) const;
  const SpecPath* find(std::string_view templ) const;

  /// A body for `schema`: its example when it has one, otherwise each property walked in the
  /// description's order ($ref, allOf, arrays of one item, type defaults), asking `source`
  /// first at every node.
  void render(simdjson::dom::element schema, JsonWriter& w, const ValueSource& source = {}) const;
  std::string render(simdjson::dom::element schema, const ValueSource& source = {}) const;
  /// components/schemas/<name>.
  simdjson::dom::element schema(std::string_view name) const;
  /// The schema's own example (after $ref and allOf), when it has one.
  std::optional<simdjson::dom::element> example(simdjson::dom::element schema) const;

  /// CoinGecko's vs_currencies, in its order (the CurrencyList example).
  const std::vector<std::string>& currencies() const { return currencies_; }
  /// Units of `vs` per US dollar in CoinGecko's own example (/global's total market cap in every
  /// currency divided by the one in usd).
  std::optional<double> exampleUnitsPerUsd(std::string_view vs) const;

 private:
  SimSpec();
  void walk(simdjson::dom::element schema, std::string& where, JsonWriter& w,
            const ValueSource& source) const;
  void walkNode(simdjson::dom::element schema, std::string& where, JsonWriter& w,
                const ValueSource& source) const;
  Supplied ask(const ValueSource& source, const std::string& where, JsonWriter& w) const;
  simdjson::dom::element resolve(simdjson::dom::element schema) const;

  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  simdjson::dom::parser null_parser_;
  simdjson::dom::element null_;  ///< what a lookup that finds nothing returns
  std::vector<SpecPath> paths_;
  std::vector<std::string> currencies_;
  std::map<std::string, double, std::less<>> units_per_usd_;
};

/// Copies a JSON value as it is (keys in their order).
void copyJson(simdjson::dom::element value, JsonWriter& w);

}  // namespace coinrelay::simulate
