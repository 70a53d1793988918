#include "kibana/kibana_setup.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "kibana/embedded_saved_objects.h"  // generated from deploy/kibana/ by the build

namespace coinrelay::kibana {

namespace {

constexpr int kMinMajor = 8;
constexpr int kMinMinor = 11;

/// What a person can do about each status Kibana may answer, for the step that got it.
std::string fixFor(int status, std::string_view step, const SetupOptions& options) {
  const bool has_credentials = !options.auth.username.empty() || !options.auth.password.empty() ||
                               !options.auth.authorization.empty();
  switch (status) {
    case 401:
      return has_credentials
                 ? "Kibana refused the credentials: check kibana.username with "
                   "COINRELAY_KIBANA_PASSWORD (or kibana.password_file), or "
                   "COINRELAY_KIBANA_API_KEY (or kibana.api_key_file)"
                 : "Kibana needs credentials: set kibana.username and COINRELAY_KIBANA_PASSWORD "
                   "(or kibana.password_file), or COINRELAY_KIBANA_API_KEY (or "
                   "kibana.api_key_file)";
    case 403:
      return "the user lacks a privilege: it needs 'Data View Management' and 'Saved Objects "
             "Management' (or 'Dashboard': All) in the Kibana space" +
             std::string(options.space.empty() ? "" : " '" + options.space + "'");
    case 404:
      if (step == "GET /api/status") {
        return "this does not look like Kibana: check kibana.url (Kibana listens on :5601 by "
               "default, Elasticsearch on :9200; include Kibana's server.basePath if it has one)";
      }
      return options.space.empty()
                 ? "check kibana.url (with Kibana's server.basePath if it has one)"
                 : "check that the Kibana space '" + options.space + "' exists (kibana.space)";
    case 409:
      return "another data view holds the id '" + std::string(kDataViewId) +
             "' with another index pattern: delete it in Stack Management > Data Views, then "
             "run `coinrelay setup kibana` again";
    case 413:
      return "Kibana's savedObjects.maxImportPayloadBytes is smaller than the file; raise it";
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return "Kibana is not ready or overloaded: wait until GET /api/status reports 'available', "
             "then run `coinrelay setup kibana` again";
    default:
      return "see Kibana's log for the request above";
  }
}

Error kibanaError(std::string_view step, const net::HttpResponse& response,
                  const SetupOptions& options) {
  const ErrorCode code = response.status >= 500 || response.status == 429
                             ? ErrorCode::Unavailable
                             : ErrorCode::FailedPrecondition;
  return makeError(
      code, fmt::format("Kibana at {} answered {} to {}: {}; {}", net::redactUrl(options.url),
                        response.status, step, kibanaMessage(response.body),
                        fixFor(response.status, step, options)));
}

struct Version {
  int major = 0;
  int minor = 0;
};

std::optional<Version> parseVersion(std::string_view text) {
  Version v;
  const char* end = text.data() + text.size();
  auto [p1, e1] = std::from_chars(text.data(), end, v.major);
  if (e1 != std::errc() || p1 == end || *p1 != '.')
    return std::nullopt;
  auto [p2, e2] = std::from_chars(p1 + 1, end, v.minor);
  if (e2 != std::errc())
    return std::nullopt;
  return v;
}

std::string boundaryFor(std::string_view content) {
  std::random_device device;
  std::mt19937_64 rng(device());
  for (;;) {
    std::string boundary = fmt::format("coinrelay-{:016x}", rng());
    if (content.find(boundary) == std::string_view::npos)
      return boundary;
  }
}

/// The string at a path of Kibana's answer, or empty where it is absent or not a string.
std::string_view stringAt(simdjson::simdjson_result<simdjson::dom::element> field) {
  std::string_view out;
  if (field.get(out) != simdjson::SUCCESS)
    return {};
  return out;
}

}  // namespace

std::string_view builtInSavedObjects() {
  for (const auto& file : generated::kEmbeddedFiles) {
    if (file.name == "crypto-prices.ndjson")
      return file.content;
  }
  return {};
}

std::string dataViewRequestBody(std::string_view index) {
  std::string body;
  JsonWriter w(body);
  // override: a data view with the same title is replaced, so a second run changes nothing.
  w.beginObject()
      .field("override", true)
      .key("data_view")
      .beginObject()
      .field("id", kDataViewId)
      .field("name", kDataViewId)
      .field("title", index)
      .field("timeFieldName", kTimeField)
      .endObject()
      .endObject();
  return body;
}

Result<std::string> importPayload(std::string_view ndjson) {
  simdjson::dom::parser parser;
  std::string out;
  size_t objects = 0;
  size_t line_number = 0;
  while (!ndjson.empty()) {
    const size_t newline = ndjson.find('\n');
    const std::string_view line =
        trim(newline == std::string_view::npos ? ndjson : ndjson.substr(0, newline));
    ndjson = newline == std::string_view::npos ? std::string_view() : ndjson.substr(newline + 1);
    ++line_number;
    if (line.empty())
      continue;
    simdjson::dom::object object;
    if (parser.parse(line.data(), line.size()).get(object) != simdjson::SUCCESS) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("saved objects file, line {}: not a JSON object; each line of "
                                   "a Kibana export is one object",
                                   line_number));
    }
    std::string_view type;
    std::string_view id;
    const bool has_type = object["type"].get(type) == simdjson::SUCCESS;
    if (!has_type && object["exportedCount"].error() == simdjson::SUCCESS)
      continue;  // the export summary line: Kibana's import skips it too
    if (!has_type || object["id"].get(id) != simdjson::SUCCESS) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("saved objects file, line {}: an object needs \"type\" and "
                                   "\"id\", as Kibana's export writes them",
                                   line_number));
    }
    if (type == "index-pattern")
      continue;  // made by the data views API just before
    out.append(line).push_back('\n');
    ++objects;
  }
  if (objects == 0) {
    return makeError(ErrorCode::InvalidArgument,
                     "the saved objects file holds nothing to import besides data views");
  }
  return out;
}

std::string multipartFile(std::string_view boundary, std::string_view field,
                          std::string_view filename, std::string_view content_type,
                          std::string_view content) {
  return fmt::format(
      "--{0}\r\nContent-Disposition: form-data; name=\"{1}\"; filename=\"{2}\"\r\n"
      "Content-Type: {3}\r\n\r\n{4}\r\n--{0}--\r\n",
      boundary, field, filename, content_type, content);
}

std::string kibanaMessage(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body.data(), body.size()).get(object) == simdjson::SUCCESS) {
    std::string_view message;
    if (object["message"].get(message) == simdjson::SUCCESS && !message.empty())
      return std::string(message);
    std::string_view error;
    if (object["error"].get(error) == simdjson::SUCCESS && !error.empty())
      return std::string(error);
  }
  const std::string_view text = trim(body);
  if (text.empty())
    return "(empty body)";
  return text.size() > 300 ? std::string(text.substr(0, 300)) + "..." : std::string(text);
}

Result<SetupReport> setupKibana(const SetupOptions& options) {
  if (options.url.empty()) {
    return makeError(ErrorCode::InvalidArgument,
                     "kibana.url is empty: pass --url http://kibana:5601 (or set "
                     "COINRELAY_KIBANA_URL)");
  }
  const std::string ndjson =
      options.saved_objects.empty() ? std::string(builtInSavedObjects()) : options.saved_objects;
  CR_TRY(const std::string payload, importPayload(ndjson));

  net::HttpClient http(options.auth, options.ca_file);
  const std::string space_root = options.url + (options.space.empty() ? "" : "/s/" + options.space);
  auto send = [&](std::string method, const std::string& root, std::string_view path,
                  net::Headers headers, std::string body) -> Result<net::HttpResponse> {
    net::HttpRequest request;
    request.method = std::move(method);
    request.url = root + std::string(path);
    request.headers = std::move(headers);
    // Kibana refuses any write without it (cross-site request forgery protection).
    request.headers.emplace_back("kbn-xsrf", "coinrelay");
    request.body = std::move(body);
    request.timeout = options.timeout;
    auto response = http.send(request);
    if (!response) {
      const std::string url = net::redactUrl(options.url);
      const std::string& why = response.error().message;
      return http.failure(
          fmt::format("Kibana at {}: {}; set kibana.ca_file to the CA bundle that signed its "
                      "certificate",
                      url, why),
          fmt::format("cannot reach Kibana at {}: {}; check kibana.url and that Kibana is running",
                      url, why));
    }
    return response;
  };

  SetupReport report;

  // 1. Is it Kibana, and new enough for these objects?
  CR_TRY(auto status, send("GET", options.url, "/api/status", {}, {}));
  if (status.status != 200)
    return kibanaError("GET /api/status", status, options);
  {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view number;
    if (parser.parse(status.body).get(doc) != simdjson::SUCCESS ||
        doc["version"]["number"].get(number) != simdjson::SUCCESS) {
      return makeError(ErrorCode::FailedPrecondition,
                       fmt::format("GET {}/api/status did not answer Kibana's status document "
                                   "(no version.number): is kibana.url Kibana?",
                                   net::redactUrl(options.url)));
    }
    report.kibana_version = std::string(number);
    auto version = parseVersion(number);
    if (!version || version->major < kMinMajor ||
        (version->major == kMinMajor && version->minor < kMinMinor)) {
      return makeError(ErrorCode::FailedPrecondition,
                       fmt::format("Kibana at {} is {}; the saved objects need Kibana {}.{} or "
                                   "later (their format cannot be imported into an older one): "
                                   "upgrade Kibana",
                                   net::redactUrl(options.url), number, kMinMajor, kMinMinor));
    }
  }

  // 2. The data view, with the time field the dashboard's time picker uses.
  CR_TRY(auto data_view,
         send("POST", space_root, "/api/data_views/data_view",
              {{"Content-Type", "application/json"}}, dataViewRequestBody(options.index)));
  if (data_view.status != 200)
    return kibanaError("POST /api/data_views/data_view", data_view, options);

  // 3. The visualizations and the dashboard; overwrite keeps a second run from adding copies.
  const std::string boundary = boundaryFor(payload);
  CR_TRY(auto imported, send("POST", space_root, "/api/saved_objects/_import?overwrite=true",
                             {{"Content-Type", "multipart/form-data; boundary=" + boundary}},
                             multipartFile(boundary, "file", "crypto-prices.ndjson",
                                           "application/ndjson", payload)));
  if (imported.status != 200)
    return kibanaError("POST /api/saved_objects/_import", imported, options);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(imported.body).get(doc) != simdjson::SUCCESS) {
    return makeError(ErrorCode::DataLoss,
                     "Kibana's answer to POST /api/saved_objects/_import is not JSON: " +
                         kibanaMessage(imported.body));
  }
  bool success = false;
  if (doc["success"].get(success) != simdjson::SUCCESS)
    success = false;
  if (!success) {
    // 200 with success false: some objects were refused; Kibana says which and why.
    std::string problems;
    std::string fix = "see Kibana's log";
    simdjson::dom::array errors;
    if (doc["errors"].get(errors) == simdjson::SUCCESS) {
      for (auto item : errors) {
        const std::string_view type = stringAt(item["type"]);
        const std::string_view id = stringAt(item["id"]);
        const std::string_view kind = stringAt(item["error"]["type"]);
        problems += fmt::format("{}{} {}: {}", problems.empty() ? "" : "; ", type, id, kind);
        if (kind == "missing_references") {
          fix = fmt::format(
              "an object refers to one Kibana lacks; the data view '{}' was made "
              "just before, so check that it still exists and run again",
              kDataViewId);
        } else if (kind == "unsupported_type") {
          fix =
              "this Kibana does not know an object type of the file; it needs the "
              "visualization and dashboard types of Kibana 8.11 or later";
        } else if (kind == "conflict" || kind == "ambiguous_conflict") {
          fix =
              "objects with these ids exist elsewhere (another space shares them); remove "
              "them in Stack Management > Saved Objects, then run again";
        }
        simdjson::dom::array references;
        if (item["error"]["references"].get(references) == simdjson::SUCCESS) {
          for (auto reference : references) {
            problems +=
                fmt::format(" {}/{}", stringAt(reference["type"]), stringAt(reference["id"]));
          }
        }
      }
    }
    return makeError(ErrorCode::FailedPrecondition,
                     fmt::format("Kibana at {} refused saved objects in POST "
                                 "/api/saved_objects/_import ({}); {}",
                                 net::redactUrl(options.url),
                                 problems.empty() ? "no detail given" : problems, fix));
  }
  simdjson::dom::array results;
  if (doc["successResults"].get(results) == simdjson::SUCCESS) {
    for (auto item : results) {
      report.imported.push_back(fmt::format("{} {}", stringAt(item["type"]), stringAt(item["id"])));
    }
  }
  report.dashboard_url =
      fmt::format("{}/app/dashboards#/view/{}", net::redactUrl(space_root), kDashboardId);
  return report;
}

}  // namespace coinrelay::kibana
