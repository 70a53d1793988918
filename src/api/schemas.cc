#include "api/schemas.h"

#include <string>
#include <utility>

#include "api/api_error.h"
#include "api/embedded_schemas.h"  // generated from schemas/*.json by cmake/embed_files.cmake
#include "common/json_writer.h"

namespace coinrelay::api {

std::optional<std::string_view> schemaFile(std::string_view name) {
  for (const auto& file : generated::kEmbeddedFiles) {
    if (file.name == name)
      return file.content;
  }
  return std::nullopt;
}

std::vector<std::string_view> schemaNames() {
  std::vector<std::string_view> names;
  for (const auto& file : generated::kEmbeddedFiles)
    names.push_back(file.name);
  return names;
}

std::optional<net::Reply> schemaRoute(std::string_view path) {
  constexpr std::string_view kList = "/v1/schemas";
  constexpr std::string_view kPrefix = "/v1/schemas/";
  if (path.starts_with(kPrefix)) {
    if (auto schema = schemaFile(path.substr(kPrefix.size()))) {
      return net::Reply{200, "application/schema+json", std::string(*schema)};
    }
    return errorReply(ApiErrorKind::NotFound, "no such schema: GET /v1/schemas lists them");
  }
  if (path != kList)
    return std::nullopt;
  std::string out;
  JsonWriter w(out);
  w.beginObject().key("schemas").beginArray();
  for (std::string_view name : schemaNames()) {
    w.beginObject()
        .field("name", name)
        .field("url", std::string(kPrefix) + std::string(name))
        .endObject();
  }
  w.endArray().endObject();
  return net::Reply{200, "application/json", std::move(out)};
}

}  // namespace coinrelay::api
