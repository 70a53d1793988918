#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "net/http_server.h"

namespace coinrelay::api {

/// The published message contracts (schemas/*.json: JSON Schema of the Kafka quote message and
/// of the dead letter), compiled into the binary so that a running coinrelay serves the schema of
/// exactly the documents it writes. docs/consuming.md explains them.

/// The schema file called `name` (e.g. "quote.v1.json"), or nullopt.
std::optional<std::string_view> schemaFile(std::string_view name);

/// The names of every embedded schema file, in build order.
std::vector<std::string_view> schemaNames();

/// GET /v1/schemas (the list, with URLs) and GET /v1/schemas/<file> (the file, as
/// application/schema+json; 404 for an unknown name). nullopt for any other path.
std::optional<net::Reply> schemaRoute(std::string_view path);

}  // namespace coinrelay::api
