#include "coingecko/markets_parser.h"

#include <fmt/format.h>

#include "common/json_read.h"
#include "common/strings.h"
#include "model/quote_fields.h"

namespace coinrelay::coingecko {

namespace {

/// Fills `q` from one item; returns a reason when the item must be skipped.
std::string readItem(simdjson::dom::element element, model::Quote& q) {
  simdjson::dom::object obj;
  if (element.get_object().get(obj) != simdjson::SUCCESS)
    return "item is not an object";
  const model::FieldProblem problem = model::readFields(obj, model::QuoteFormat::CoinGecko, q);
  if (problem.kind == model::FieldProblem::Kind::Missing) {
    if (problem.key == "id")
      return "item has no id";
    if (problem.field->type == model::FieldType::Date) {
      return fmt::format("{}: {} '{}' is not ISO-8601", q.id, problem.key,
                         problem.text ? excerpt(*problem.text, 40) : "null");
    }
    return fmt::format("{}: no symbol or name", q.id);
  }
  if (problem.kind == model::FieldProblem::Kind::WrongType)
    return fmt::format("{}: field '{}' has the wrong type", q.id, problem.key);
  return {};
}

}  // namespace

Result<MarketsPage> parseCoinsMarkets(std::string_view body, std::string_view vs_currency,
                                      int64_t fetched_ms, simdjson::dom::parser& parser) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("coins/markets answered with invalid JSON ({}), {} bytes: '{}'",
                                 simdjson::error_message(err), body.size(), excerpt(body, 80)));
  }
  simdjson::dom::array items;
  if (doc.get_array().get(items) != simdjson::SUCCESS) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("coins/markets answered with JSON that is not an array: '{}'",
                                 excerpt(body, 80)));
  }
  MarketsPage page;
  page.quotes.reserve(items.size());
  for (simdjson::dom::element item : items) {
    model::Quote q;
    q.vs_currency = std::string(vs_currency);
    q.fetched_ms = fetched_ms;
    std::string reason = readItem(item, q);
    if (reason.empty()) {
      page.quotes.push_back(std::move(q));
    } else {
      if (page.invalid_items == 0)
        page.first_invalid_reason = std::move(reason);
      ++page.invalid_items;
    }
  }
  return page;
}

UpstreamError describeErrorBody(std::string_view body, simdjson::dom::parser& parser) {
  UpstreamError out;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS) {
    auto readStatus = [&](simdjson::dom::object status) {
      std::string ignored;
      out.error_code =
          static_cast<int>(json::optionalInteger(status, "error_code", &ignored).value_or(0));
      out.message =
          std::string(json::optionalString(status, "error_message", &ignored).value_or(""));
    };
    simdjson::dom::object status;
    std::string_view text;
    if (doc["status"].get_object().get(status) == simdjson::SUCCESS) {
      readStatus(status);  // {"status":{"error_code":429,"error_message":"..."}}
    } else if (doc["error"]["status"].get_object().get(status) == simdjson::SUCCESS) {
      readStatus(status);  // {"error":{"status":{...}}}
    } else if (doc["error"].get_string().get(text) == simdjson::SUCCESS) {
      out.message = std::string(text);  // {"error":"invalid vs_currency"}
    }
    if (!out.message.empty())
      return out;
  }
  // Not JSON: Cloudflare pages carry the useful part in <title>; plain text is kept as it is.
  const size_t title = body.find("<title>");
  if (title != std::string_view::npos) {
    const size_t end = body.find("</title>", title);
    out.message =
        "HTML page: " +
        excerpt(body.substr(title + 7, end == std::string_view::npos ? end : end - title - 7), 80);
  } else {
    out.message = excerpt(trim(body));
  }
  if (out.message.empty())
    out.message = "empty body";
  return out;
}

}  // namespace coinrelay::coingecko
