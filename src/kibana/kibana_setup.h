#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/http_client.h"

namespace coinrelay::kibana {

/// Fixed ids, so that provisioning twice overwrites the same objects instead of adding copies.
inline constexpr std::string_view kDataViewId = "crypto-prices";
inline constexpr std::string_view kDashboardId = "coinrelay-crypto-prices";
inline constexpr std::string_view kTimeField = "timestamp";

/// The saved objects coinrelay ships: deploy/kibana/crypto-prices.ndjson, in Kibana's export
/// format, compiled into the binary (the data view, three visualizations, the dashboard).
std::string_view builtInSavedObjects();

struct SetupOptions {
  std::string url;    ///< Kibana's root URL (with its base path), no trailing slash
  std::string space;  ///< a space id; empty: the default space
  net::HttpAuth auth;
  std::string ca_file;
  std::string index = "crypto-prices";  ///< what the data view matches (elasticsearch.index)
  std::string saved_objects;            ///< NDJSON to import; empty: builtInSavedObjects()
  std::chrono::milliseconds timeout{30'000};
};

struct SetupReport {
  std::string kibana_version;
  std::vector<std::string> imported;  ///< "dashboard coinrelay-crypto-prices", one per object
  std::string dashboard_url;
};

/// Provisions Kibana 8.11 or later in three calls, each answered error explaining Kibana's status,
/// its message and the fix:
///   GET  /api/status                                   Kibana and its version
///   POST /api/data_views/data_view                     the data view, replaced if present
///   POST /api/saved_objects/_import?overwrite=true     visualizations and dashboard (multipart)
/// Every POST carries kbn-xsrf, as Kibana requires. The data view is made through its own API
/// (Kibana's advice for data views), so the index-pattern object of the file is left out of the
/// import; the file keeps it so that a person can import the file alone by hand.
Result<SetupReport> setupKibana(const SetupOptions& options);

// The pieces, for tests.

/// {"override":true,"data_view":{"id","name","title","timeFieldName"}}.
std::string dataViewRequestBody(std::string_view index);

/// The NDJSON to send to _import: every object line but index-pattern ones and the export
/// summary line. Fails on a line that is not a JSON object with "type" and "id", naming it.
Result<std::string> importPayload(std::string_view ndjson);

/// One multipart/form-data body holding a single file field.
std::string multipartFile(std::string_view boundary, std::string_view field,
                          std::string_view filename, std::string_view content_type,
                          std::string_view content);

/// Kibana's error text: "message" of its {"statusCode","error","message"} body, else the body
/// itself, shortened.
std::string kibanaMessage(std::string_view body);

}  // namespace coinrelay::kibana
