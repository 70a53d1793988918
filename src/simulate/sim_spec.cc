#include "simulate/sim_spec.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "simulate/embedded_openapi.h"  // generated from third_party/coingecko by embed_files.cmake

namespace coinrelay::simulate {

namespace {

std::string_view embeddedDescription() {
  for (const auto& file : generated::kEmbeddedFiles) {
    if (file.name == "openapi-v3.json")
      return file.content;
  }
  return {};
}

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> segments;
  size_t at = 0;
  while (at < path.size()) {
    if (path[at] == '/') {
      ++at;
      continue;
    }
    const size_t end = std::min(path.find('/', at), path.size());
    segments.emplace_back(path.substr(at, end - at));
    at = end;
  }
  return segments;
}

bool isParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::string_view stringOr(simdjson::dom::element element, std::string_view key,
                          std::string_view fallback = {}) {
  std::string_view text;
  if (element[key].get(text) != simdjson::SUCCESS)
    return fallback;
  return text;
}

}  // namespace

std::optional<Plan> planNamed(std::string_view name) {
  if (name == "demo")
    return Plan::Demo;
  if (name == "paid")
    return Plan::Paid;
  if (name == "enterprise")
    return Plan::Enterprise;
  return std::nullopt;
}

std::string_view planName(Plan plan) {
  switch (plan) {
    case Plan::Demo:
      return "demo";
    case Plan::Paid:
      return "paid";
    case Plan::Enterprise:
      return "enterprise";
  }
  return "demo";
}

void copyJson(simdjson::dom::element value, JsonWriter& w) {
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT:
      w.beginObject();
      for (auto field : simdjson::dom::object(value)) {
        w.key(field.key);
        copyJson(field.value, w);
      }
      w.endObject();
      return;
    case simdjson::dom::element_type::ARRAY:
      w.beginArray();
      for (auto item : simdjson::dom::array(value))
        copyJson(item, w);
      w.endArray();
      return;
    case simdjson::dom::element_type::STRING:
      w.value(std::string_view(value));
      return;
    case simdjson::dom::element_type::INT64:
      w.value(int64_t(value));
      return;
    case simdjson::dom::element_type::UINT64:
      w.value(static_cast<double>(uint64_t(value)));
      return;
    case simdjson::dom::element_type::DOUBLE:
      w.value(double(value));
      return;
    case simdjson::dom::element_type::BOOL:
      w.value(bool(value));
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      w.null();
      return;
  }
}

const SimSpec& SimSpec::get() {
  static const SimSpec spec;
  return spec;
}

SimSpec::SimSpec() {
  if (null_parser_.parse(simdjson::padded_string(std::string_view("null"))).get(null_) !=
      simdjson::SUCCESS) {
    throw std::runtime_error("simdjson cannot parse null");
  }
  // The description is part of the binary: failing to read it is a build defect, not an input
  // error, so it stops the process at its first use.
  if (parser_.parse(simdjson::padded_string(embeddedDescription())).get(root_) !=
      simdjson::SUCCESS) {
    throw std::runtime_error("the compiled-in CoinGecko API description is not JSON");
  }
  for (auto [templ, operation] : simdjson::dom::object(root_["paths"])) {
    SpecPath path;
    path.templ = std::string(templ);
    path.segments = splitPath(templ);
    for (const auto& segment : path.segments)
      path.literals += isParameter(segment) ? 0 : 1;
    path.plan = planNamed(stringOr(operation, "plan", "demo")).value_or(Plan::Demo);
    simdjson::dom::array parameters;
    if (operation["parameters"].get(parameters) == simdjson::SUCCESS) {
      for (simdjson::dom::element p : parameters) {
        SpecParam param;
        param.name = std::string(stringOr(p, "name"));
        param.in_path = stringOr(p, "in") == "path";
        bool required = false;
        param.required = p["required"].get(required) == simdjson::SUCCESS && required;
        param.type = std::string(stringOr(p["schema"], "type", "string"));
        simdjson::dom::array choices;
        if (p["schema"]["enum"].get(choices) == simdjson::SUCCESS) {
          for (simdjson::dom::element choice : choices) {
            std::string_view text;
            if (choice.get(text) == simdjson::SUCCESS)
              param.choices.emplace_back(text);
          }
        }
        path.params.push_back(std::move(param));
      }
    }
    if (operation["responses"]["200"]["content"]["application/json"]["schema"].get(path.response) !=
        simdjson::SUCCESS) {
      path.response = null_;  // no schema: the walk answers null
    }
    paths_.push_back(std::move(path));
  }
  if (auto list = example(schema("CurrencyList"))) {
    for (simdjson::dom::element item : simdjson::dom::array(*list))
      currencies_.emplace_back(std::string_view(item));
  }
  // CoinGecko's /global example writes its body under "date" (the API says "data"); its total
  // market cap in every currency gives the exchange rates of CoinGecko's own example.
  simdjson::dom::object caps;
  if (auto global = example(schema("Global"));
      global && (*global)["date"]["total_market_cap"].get(caps) == simdjson::SUCCESS) {
    double usd = 0;
    if (caps["usd"].get(usd) == simdjson::SUCCESS && usd > 0) {
      for (auto [vs, cap] : caps) {
        double value = 0;
        if (cap.get(value) == simdjson::SUCCESS)
          units_per_usd_.emplace(std::string(vs), value / usd);
      }
    }
  }
}

std::optional<PathMatch> SimSpec::match(std::string_view path) const {
  const std::vector<std::string> segments = splitPath(path);
  std::optional<PathMatch> best;
  for (const SpecPath& candidate : paths_) {
    if (candidate.segments.size() != segments.size())
      continue;
    PathMatch match{&candidate, {}};
    bool fits = true;
    for (size_t i = 0; i < segments.size() && fits; ++i) {
      const std::string& want = candidate.segments[i];
      if (isParameter(want))
        match.params[want.substr(1, want.size() - 2)] = segments[i];
      else
        fits = want == segments[i];
    }
    if (fits && (!best || candidate.literals > best->path->literals))
      best = std::move(match);
  }
  return best;
}

const SpecPath* SimSpec::find(std::string_view templ) const {
  for (const SpecPath& path : paths_) {
    if (path.templ == templ)
      return &path;
  }
  return nullptr;
}

simdjson::dom::element SimSpec::schema(std::string_view name) const {
  simdjson::dom::element found;
  if (root_["components"]["schemas"][name].get(found) != simdjson::SUCCESS)
    return null_;
  return found;
}

simdjson::dom::element SimSpec::resolve(simdjson::dom::element schema) const {
  for (int hops = 0; hops < 16; ++hops) {
    std::string_view ref;
    if (schema.type() != simdjson::dom::element_type::OBJECT ||
        schema["$ref"].get(ref) != simdjson::SUCCESS)
      return schema;
    constexpr std::string_view kPrefix = "#/components/schemas/";
    if (!ref.starts_with(kPrefix))
      return schema;
    schema = this->schema(ref.substr(kPrefix.size()));
  }
  return schema;
}

std::optional<simdjson::dom::element> SimSpec::example(simdjson::dom::element schema) const {
  schema = resolve(schema);
  if (schema.type() != simdjson::dom::element_type::OBJECT)
    return std::nullopt;
  simdjson::dom::element found;
  if (schema["example"].get(found) == simdjson::SUCCESS)
    return found;
  simdjson::dom::array parts;
  if (schema["allOf"].get(parts) == simdjson::SUCCESS) {
    // allOf: [the base schema, {example of this variant}]: the variant's own example wins.
    std::optional<simdjson::dom::element> base;
    for (simdjson::dom::element part : parts) {
      simdjson::dom::element own;
      if (part["example"].get(own) == simdjson::SUCCESS)
        return own;
      if (!base)
        base = example(part);
    }
    return base;
  }
  return std::nullopt;
}

std::optional<double> SimSpec::exampleUnitsPerUsd(std::string_view vs) const {
  auto it = units_per_usd_.find(vs);
  if (it == units_per_usd_.end())
    return std::nullopt;
  return it->second;
}

void SimSpec::render(simdjson::dom::element schema, JsonWriter& w,
                     const ValueSource& source) const {
  std::string where;
  walk(schema, where, w, source);
}

std::string SimSpec::render(simdjson::dom::element schema, const ValueSource& source) const {
  std::string body;
  JsonWriter w(body);
  render(schema, w, source);
  return body;
}

Supplied SimSpec::ask(const ValueSource& source, const std::string& where, JsonWriter& w) const {
  if (!source)
    return Supplied::Walk;
  std::string probe;
  JsonWriter probe_writer(probe);
  const Supplied supplied = source.value(where, probe_writer);
  if (supplied == Supplied::Written)
    w.raw(probe);
  return supplied;
}

void SimSpec::walk(simdjson::dom::element schema, std::string& where, JsonWriter& w,
                   const ValueSource& source) const {
  if (ask(source, where, w) == Supplied::Walk)
    walkNode(schema, where, w, source);
}

void SimSpec::walkNode(simdjson::dom::element schema, std::string& where, JsonWriter& w,
                       const ValueSource& source) const {
  schema = resolve(schema);
  if (schema.type() != simdjson::dom::element_type::OBJECT) {
    w.null();
    return;
  }
  // Properties of this schema, or of every part of an allOf, in the description's order.
  std::vector<std::pair<std::string_view, simdjson::dom::element>> properties;
  auto collect = [&](simdjson::dom::element part) {
    part = resolve(part);
    simdjson::dom::object props;
    if (part.type() == simdjson::dom::element_type::OBJECT &&
        part["properties"].get(props) == simdjson::SUCCESS) {
      for (auto [name, value] : props)
        properties.emplace_back(name, value);
    }
  };
  simdjson::dom::array parts;
  const bool composed = schema["allOf"].get(parts) == simdjson::SUCCESS;
  if (composed) {
    for (simdjson::dom::element part : parts)
      collect(part);
  } else {
    collect(schema);
  }
  // An example is the whole value as CoinGecko documents it. A walk backed by a model goes into
  // objects instead, so the model is asked about each of their members.
  if (!source || properties.empty()) {
    if (auto own = example(schema)) {
      copyJson(*own, w);
      return;
    }
  }
  simdjson::dom::array alternatives;
  if (properties.empty() && schema["oneOf"].get(alternatives) == simdjson::SUCCESS) {
    for (simdjson::dom::element first : alternatives) {
      walkNode(first, where, w, source);
      return;
    }
  }
  const std::string_view type = stringOr(schema, "type", composed ? "object" : "");
  if (type == "object" || !properties.empty()) {
    w.beginObject();
    for (const auto& [name, value] : properties) {
      const size_t mark = where.size();
      if (!where.empty())
        where += '.';
      where += name;
      std::string member;
      JsonWriter member_writer(member);
      const Supplied supplied = ask(source, where, member_writer);
      if (supplied == Supplied::Written) {
        w.key(name).raw(member);
      } else if (supplied == Supplied::Walk) {
        w.key(name);
        walkNode(value, where, w, source);
      }
      where.resize(mark);
    }
    if (source.append)
      source.append(where, w);
    w.endObject();
    return;
  }
  if (type == "array") {
    // One item shows the shape of a list of objects or lists; a list of plain values without an
    // example stays empty rather than holding an invented "" or 0.
    simdjson::dom::element items;
    w.beginArray();
    if (schema["items"].get(items) == simdjson::SUCCESS) {
      items = resolve(items);
      const std::string_view item_type = stringOr(items, "type", "object");
      simdjson::dom::element own;
      if (item_type == "object" || item_type == "array" ||
          items["example"].get(own) == simdjson::SUCCESS) {
        where += "[]";
        walk(items, where, w, source);
        where.resize(where.size() - 2);
      }
    }
    w.endArray();
    return;
  }
  if (type == "number" || type == "integer") {
    w.value(int64_t{0});
  } else if (type == "boolean") {
    w.value(false);
  } else if (type == "string") {
    w.value(std::string_view());
  } else {
    w.null();
  }
}

}  // namespace coinrelay::simulate
