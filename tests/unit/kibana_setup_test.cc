// `coinrelay setup kibana` against a stub of Kibana.
//
// This is a STUB, not Kibana: Kibana cannot run here (it is not in the package registries this
// project builds from, and needs an Elasticsearch of its own). The stub answers the three calls
// the way Kibana 8.11+ documents them (GET /api/status, POST /api/data_views/data_view, POST
// /api/saved_objects/_import) and checks every request it gets: method, path, query, headers
// (kbn-xsrf, content type, authorization) and the shape of the body (the data view JSON; the
// multipart form holding the NDJSON file). It keeps the objects it was given by type and id, as
// Kibana does, so running the setup twice can be seen to overwrite rather than duplicate. The
// saved objects file itself is checked against Kibana's export format and the index mapping.

#include "kibana/kibana_setup.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "app/setup_kibana_command.h"
#include "elasticsearch/bulk_encoder.h"
#include "net/http_server.h"
#include "support/fake_http_server.h"

namespace coinrelay {
namespace {

std::string kibanaError(int status, const std::string& error, const std::string& message) {
  return "{\"statusCode\":" + std::to_string(status) + ",\"error\":\"" + error +
         "\",\"message\":\"" + message + "\"}";
}

class KibanaStub {
 public:
  struct Options {
    std::string version = "8.11.3";
    std::string authorization;  ///< the exact Authorization header required; empty: none
    std::string space;          ///< requests other than /api/status must go to /s/<space>
    std::string index = "crypto-prices";
  };

  explicit KibanaStub(Options options)
      : options_(std::move(options)),
        server_([this](const net::Request& request) { return handle(request); }, 1) {}

  std::string url() const { return server_.url(); }

  /// Forces the answer to "METHOD /path" (after the request's checks), to test error reporting.
  void answer(const std::string& route, net::Reply reply) { server_.answer(route, reply); }

  std::vector<std::string> problems() const {
    std::lock_guard lock(mutex_);
    return problems_;
  }
  std::vector<std::string> calls() const { return server_.routes(); }
  /// The saved objects held, "type/id" -> title.
  std::map<std::string, std::string> objects() const {
    std::lock_guard lock(mutex_);
    return objects_;
  }
  int imports() const {
    std::lock_guard lock(mutex_);
    return imports_;
  }

 private:
  net::Reply handle(const net::Request& request) {
    std::lock_guard lock(mutex_);
    const std::string prefix = options_.space.empty() ? "" : "/s/" + options_.space;
    const std::string_view auth = request.header("authorization");
    if (auth != options_.authorization) {
      return {401, "application/json",
              kibanaError(401, "Unauthorized",
                          "[security_exception]: unable to authenticate user [coinrelay]")};
    }
    if (request.method == "GET" && request.path == "/api/status") {
      return {200, "application/json",
              R"({"name":"kibana","version":{"number":")" + options_.version +
                  R"(","build_flavor":"default"},"status":{"overall":{"level":"available"}}})"};
    }
    if (request.method != "POST") {
      problem(request, "unexpected method " + request.method);
      return {404, "application/json", kibanaError(404, "Not Found", "Not Found")};
    }
    // Kibana refuses every write without kbn-xsrf, with exactly this message.
    if (request.header("kbn-xsrf").empty()) {
      problem(request, "no kbn-xsrf header");
      return {400, "application/json",
              kibanaError(400, "Bad Request", "Request must contain a kbn-xsrf header.")};
    }
    if (request.path == prefix + "/api/data_views/data_view") {
      checkDataView(request);
      objects_["index-pattern/crypto-prices"] = options_.index;
      return {200, "application/json",
              R"({"data_view":{"id":"crypto-prices","title":")" + options_.index +
                  R"(","timeFieldName":"timestamp"}})"};
    }
    if (request.path == prefix + "/api/saved_objects/_import") {
      ++imports_;
      return importObjects(request);
    }
    problem(request, "unexpected path");
    return {404, "application/json", kibanaError(404, "Not Found", "Not Found")};
  }

  void problem(const net::Request& request, const std::string& what) {
    problems_.push_back(request.method + " " + request.path + ": " + what);
  }

  void checkDataView(const net::Request& request) {
    if (request.header("content-type") != "application/json")
      problem(request, "content-type is not application/json");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(request.body).get(doc) != simdjson::SUCCESS) {
      problem(request, "body is not JSON: " + request.body);
      return;
    }
    bool override_existing = false;
    std::string_view id, title, time_field;
    if (doc["override"].get(override_existing) != simdjson::SUCCESS || !override_existing)
      problem(request, "override is not true: a second run would fail on the existing view");
    if (doc["data_view"]["id"].get(id) != simdjson::SUCCESS || id != "crypto-prices")
      problem(request, "data_view.id is not crypto-prices");
    if (doc["data_view"]["title"].get(title) != simdjson::SUCCESS || title != options_.index)
      problem(request, "data_view.title is not the index " + options_.index);
    if (doc["data_view"]["timeFieldName"].get(time_field) != simdjson::SUCCESS ||
        time_field != "timestamp")
      problem(request, "data_view.timeFieldName is not timestamp");
  }

  /// Checks the multipart form (one field "file" holding an .ndjson), then imports its objects
  /// as Kibana does: references must resolve, an existing id needs overwrite=true.
  net::Reply importObjects(const net::Request& request) {
    if (request.param("overwrite") != "true")
      problem(request, "overwrite=true missing from the query");
    const std::string content_type(request.header("content-type"));
    const std::string marker = "multipart/form-data; boundary=";
    if (!content_type.starts_with(marker)) {
      problem(request, "content-type is not multipart/form-data: " + content_type);
      return {415, "application/json",
              kibanaError(415, "Unsupported Media Type", "Unsupported Media Type")};
    }
    const std::string boundary = content_type.substr(marker.size());
    const std::string& body = request.body;
    const std::string head = "--" + boundary + "\r\n";
    const std::string tail = "\r\n--" + boundary + "--\r\n";
    const size_t header_end = body.find("\r\n\r\n");
    if (!body.starts_with(head) || !body.ends_with(tail) || header_end == std::string::npos) {
      problem(request, "not a multipart body with boundary " + boundary);
      return {400, "application/json", kibanaError(400, "Bad Request", "bad multipart body")};
    }
    const std::string part_headers = body.substr(head.size(), header_end - head.size());
    if (part_headers.find("Content-Disposition: form-data; name=\"file\"; filename=\"") ==
            std::string::npos ||
        part_headers.find(".ndjson\"") == std::string::npos) {
      problem(request, "the part is not a file field named 'file' with an .ndjson name");
    }
    const std::string ndjson =
        body.substr(header_end + 4, body.size() - tail.size() - header_end - 4);
    simdjson::dom::parser parser;
    std::map<std::string, std::string> incoming;                  // type/id -> title
    std::vector<std::pair<std::string, std::string>> references;  // from, to
    std::istringstream lines(ndjson);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty())
        continue;
      simdjson::dom::element object;
      std::string_view type, id, title;
      simdjson::dom::array refs;
      if (parser.parse(line).get(object) != simdjson::SUCCESS ||
          object["type"].get(type) != simdjson::SUCCESS ||
          object["id"].get(id) != simdjson::SUCCESS ||
          object["references"].get(refs) != simdjson::SUCCESS) {
        problem(request, "a line of the file is not a saved object: " + line.substr(0, 80));
        continue;
      }
      if (object["attributes"]["title"].get(title) != simdjson::SUCCESS)
        title = "";
      const std::string key = std::string(type) + "/" + std::string(id);
      incoming[key] = std::string(title);
      for (auto ref : refs) {
        std::string_view ref_type, ref_id;
        EXPECT_EQ(ref["type"].get(ref_type), simdjson::SUCCESS);
        EXPECT_EQ(ref["id"].get(ref_id), simdjson::SUCCESS);
        references.emplace_back(key, std::string(ref_type) + "/" + std::string(ref_id));
      }
    }
    std::string errors;
    for (const auto& [from, to] : references) {
      if (!incoming.contains(to) && !objects_.contains(to)) {
        const auto slash = from.find('/');
        const auto to_slash = to.find('/');
        errors += std::string(errors.empty() ? "" : ",") + R"({"type":")" + from.substr(0, slash) +
                  R"(","id":")" + from.substr(slash + 1) +
                  R"(","error":{"type":"missing_references","references":[{"type":")" +
                  to.substr(0, to_slash) + R"(","id":")" + to.substr(to_slash + 1) + R"("}]}})";
      }
    }
    if (!errors.empty()) {
      return {200, "application/json",
              R"({"success":false,"successCount":0,"errors":[)" + errors + "]}"};
    }
    std::string results;
    for (const auto& [key, title] : incoming) {
      if (objects_.contains(key) && request.param("overwrite") != "true")
        problem(request, key + " exists and overwrite is off: Kibana answers a conflict");
      objects_[key] = title;
      const auto slash = key.find('/');
      results += std::string(results.empty() ? "" : ",") + R"({"type":")" + key.substr(0, slash) +
                 R"(","id":")" + key.substr(slash + 1) + R"(","meta":{"title":")" + title +
                 R"("}})";
    }
    return {200, "application/json",
            R"({"success":true,"successCount":)" + std::to_string(incoming.size()) +
                R"(,"successResults":[)" + results + "]}"};
  }

  Options options_;
  mutable std::mutex mutex_;
  std::vector<std::string> problems_;
  std::map<std::string, std::string> objects_;
  int imports_ = 0;
  testing::FakeHttpServer server_;  // last: stopped before the state its handler uses
};

kibana::SetupOptions basicAuth(const KibanaStub& stub) {
  kibana::SetupOptions options;
  options.url = stub.url();
  options.auth.username = "coinrelay";
  options.auth.password = "s3cret";
  options.timeout = std::chrono::seconds(10);
  return options;
}

// "coinrelay:s3cret", as libcurl sends it.
const std::string kBasic = "Basic Y29pbnJlbGF5OnMzY3JldA==";

TEST(KibanaSetupTest, CreatesTheDataViewThenImportsTheDashboard) {
  KibanaStub stub({.authorization = kBasic});
  auto report = kibana::setupKibana(basicAuth(stub));
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(stub.problems().empty()) << ::testing::PrintToString(stub.problems());
  EXPECT_EQ(stub.calls(),
            (std::vector<std::string>{"GET /api/status", "POST /api/data_views/data_view",
                                      "POST /api/saved_objects/_import"}));
  EXPECT_EQ(report->kibana_version, "8.11.3");
  EXPECT_EQ(stub.objects(),
            (std::map<std::string, std::string>{
                {"index-pattern/crypto-prices", "crypto-prices"},
                {"visualization/coinrelay-price-over-time", "Price over time by symbol"},
                {"visualization/coinrelay-top10-market-cap", "Top 10 coins by market cap"},
                {"visualization/coinrelay-latest-quotes", "Latest quotes"},
                {"dashboard/coinrelay-crypto-prices", "coinrelay: crypto prices"},
            }));
  EXPECT_EQ(report->imported.size(), 4u) << "the data view comes from its own API, not _import";
  EXPECT_EQ(report->dashboard_url, stub.url() + "/app/dashboards#/view/coinrelay-crypto-prices");
}

TEST(KibanaSetupTest, RunningTwiceOverwritesTheSameObjects) {
  KibanaStub stub({.authorization = kBasic});
  ASSERT_TRUE(kibana::setupKibana(basicAuth(stub)));
  const auto first = stub.objects();
  auto again = kibana::setupKibana(basicAuth(stub));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(stub.imports(), 2);
  EXPECT_EQ(stub.objects(), first) << "fixed ids: the second run replaced, added nothing";
  EXPECT_TRUE(stub.problems().empty()) << ::testing::PrintToString(stub.problems());
}

TEST(KibanaSetupTest, SendsAnApiKeyAndUsesTheSpace) {
  KibanaStub stub({.version = "9.0.1",
                   .authorization = "ApiKey aWQ6a2V5",
                   .space = "markets",
                   .index = "crypto-prices-eu"});
  kibana::SetupOptions options;
  options.url = stub.url();
  options.space = "markets";
  options.index = "crypto-prices-eu";
  options.auth.authorization = "ApiKey aWQ6a2V5";
  auto report = kibana::setupKibana(options);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(stub.problems().empty()) << ::testing::PrintToString(stub.problems());
  EXPECT_EQ(stub.calls(),
            (std::vector<std::string>{"GET /api/status", "POST /s/markets/api/data_views/data_view",
                                      "POST /s/markets/api/saved_objects/_import"}));
  EXPECT_EQ(report->dashboard_url,
            stub.url() + "/s/markets/app/dashboards#/view/coinrelay-crypto-prices");
}

void expectContains(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& part : parts)
    EXPECT_NE(text.find(part), std::string::npos) << "'" << part << "' not in: " << text;
}

TEST(KibanaSetupTest, ReportsRefusedCredentialsWithKibanasMessageAndTheFix) {
  KibanaStub stub({.authorization = kBasic});
  auto options = basicAuth(stub);
  options.auth.password = "wrong";
  auto report = kibana::setupKibana(options);
  ASSERT_FALSE(report);
  expectContains(report.error().message, {"401", "GET /api/status", "unable to authenticate user",
                                          "COINRELAY_KIBANA_PASSWORD", "COINRELAY_KIBANA_API_KEY"});
  EXPECT_EQ(report.error().message.find("wrong"), std::string::npos) << "no secret printed";
  options.auth = {};
  report = kibana::setupKibana(options);
  ASSERT_FALSE(report);
  expectContains(report.error().message, {"401", "Kibana needs credentials"});
}

TEST(KibanaSetupTest, RefusesAKibanaOlderThan811) {
  KibanaStub stub({.version = "8.10.4", .authorization = kBasic});
  auto report = kibana::setupKibana(basicAuth(stub));
  ASSERT_FALSE(report);
  expectContains(report.error().message, {"8.10.4", "8.11", "upgrade Kibana"});
  EXPECT_EQ(stub.calls().size(), 1u) << "nothing is written into a Kibana that is too old";
}

TEST(KibanaSetupTest, ReportsAMissingPrivilegeOnTheDataView) {
  KibanaStub stub({.authorization = kBasic});
  stub.answer("POST /api/data_views/data_view",
              {403, "application/json",
               kibanaError(403, "Forbidden",
                           "API [POST /api/data_views/data_view] is unauthorized for user, "
                           "this action is granted by the Kibana privileges [indexPatterns]")});
  auto report = kibana::setupKibana(basicAuth(stub));
  ASSERT_FALSE(report);
  expectContains(report.error().message,
                 {"403", "POST /api/data_views/data_view", "granted by the Kibana privileges",
                  "Data View Management"});
}

TEST(KibanaSetupTest, ReportsObjectsKibanaRefusedInTheImport) {
  KibanaStub stub({.authorization = kBasic});
  stub.answer(
      "POST /api/saved_objects/_import",
      {200, "application/json",
       R"({"success":false,"successCount":3,"errors":[{"id":"coinrelay-latest-quotes","type":"visualization","title":"Latest quotes","meta":{"title":"Latest quotes"},"error":{"type":"unsupported_type"}}]})"});
  auto report = kibana::setupKibana(basicAuth(stub));
  ASSERT_FALSE(report);
  expectContains(report.error().message, {"visualization coinrelay-latest-quotes: unsupported_type",
                                          "does not know an object type"});
}

TEST(KibanaSetupTest, ReportsWhatIsNotKibanaOrNotReachable) {
  KibanaStub stub({.authorization = kBasic});
  stub.answer("GET /api/status",
              {404, "application/json", R"({"error":"no handler found for uri [/api/status]"})"});
  auto report = kibana::setupKibana(basicAuth(stub));
  ASSERT_FALSE(report);
  expectContains(report.error().message, {"404", "does not look like Kibana", ":5601"});

  kibana::SetupOptions nowhere;
  nowhere.url = "http://127.0.0.1:1";
  report = kibana::setupKibana(nowhere);
  ASSERT_FALSE(report);
  expectContains(report.error().message, {"cannot reach Kibana at http://127.0.0.1:1"});
}

TEST(KibanaSetupTest, ImportPayloadDropsDataViewsAndTheSummaryAndNamesABadLine) {
  auto payload = kibana::importPayload(
      "{\"type\":\"index-pattern\",\"id\":\"x\",\"references\":[]}\n"
      "{\"type\":\"dashboard\",\"id\":\"d\",\"references\":[]}\n\n"
      "{\"exportedCount\":2,\"missingRefCount\":0}\n");
  ASSERT_TRUE(payload) << payload.error().message;
  EXPECT_EQ(*payload, "{\"type\":\"dashboard\",\"id\":\"d\",\"references\":[]}\n");
  auto bad = kibana::importPayload("{\"type\":\"dashboard\",\"id\":\"d\"}\nnot json\n");
  ASSERT_FALSE(bad);
  expectContains(bad.error().message, {"line 2", "not a JSON object"});
}

// The file a person imports by hand must be what Kibana's export writes, and must only use
// fields the index mapping has (with the types the aggregations need).
TEST(KibanaSetupTest, SavedObjectsFileFollowsKibanasExportFormat) {
  const std::string path =
      std::string(COINRELAY_SOURCE_DIR) + "/deploy/kibana/crypto-prices.ndjson";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), kibana::builtInSavedObjects()) << "the binary embeds the file as it is";

  simdjson::dom::parser mapping_parser;
  simdjson::dom::element mapping;
  const std::string template_body = elasticsearch::indexTemplateBody("crypto-prices", 1, 0);
  ASSERT_EQ(mapping_parser.parse(template_body).get(mapping), simdjson::SUCCESS);
  auto fieldType = [&](std::string_view field) {
    std::string_view type;
    if (mapping["template"]["mappings"]["properties"][field]["type"].get(type) != simdjson::SUCCESS)
      return std::string("(not mapped)");
    return std::string(type);
  };

  std::vector<std::string> lines;
  std::istringstream stream(text.str());
  for (std::string line; std::getline(stream, line);)
    lines.push_back(line);
  ASSERT_GE(lines.size(), 2u);
  simdjson::dom::parser parser;
  std::map<std::string, std::string> ids;  // type/id -> the line
  std::map<std::string, std::string> vis_types;
  std::set<std::string> fields_used;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    simdjson::dom::element object;
    ASSERT_EQ(parser.parse(lines[i]).get(object), simdjson::SUCCESS);
    std::string_view type, id, core, type_version;
    bool managed = true;
    ASSERT_EQ(object["type"].get(type), simdjson::SUCCESS);
    ASSERT_EQ(object["id"].get(id), simdjson::SUCCESS);
    ASSERT_EQ(object["coreMigrationVersion"].get(core), simdjson::SUCCESS);
    ASSERT_EQ(object["typeMigrationVersion"].get(type_version), simdjson::SUCCESS);
    ASSERT_EQ(object["managed"].get(managed), simdjson::SUCCESS);
    EXPECT_FALSE(managed);
    EXPECT_TRUE(object["attributes"].is_object());
    EXPECT_TRUE(object["references"].is_array());
    ids[std::string(type) + "/" + std::string(id)] = lines[i];
    if (type == "index-pattern") {
      std::string_view title, time_field;
      ASSERT_EQ(object["attributes"]["title"].get(title), simdjson::SUCCESS);
      ASSERT_EQ(object["attributes"]["timeFieldName"].get(time_field), simdjson::SUCCESS);
      EXPECT_EQ(id, "crypto-prices");
      EXPECT_EQ(title, "crypto-prices");
      EXPECT_EQ(time_field, "timestamp");
    }
    if (type == "visualization") {
      std::string_view vis_state_text;
      ASSERT_EQ(object["attributes"]["visState"].get(vis_state_text), simdjson::SUCCESS);
      simdjson::dom::parser vis_parser;
      simdjson::dom::element vis_state;
      ASSERT_EQ(vis_parser.parse(vis_state_text).get(vis_state), simdjson::SUCCESS);
      std::string_view vis_type;
      ASSERT_EQ(vis_state["type"].get(vis_type), simdjson::SUCCESS);
      vis_types[std::string(id)] = std::string(vis_type);
      for (auto agg : vis_state["aggs"].get_array()) {
        std::string_view field, agg_type;
        ASSERT_EQ(agg["type"].get(agg_type), simdjson::SUCCESS);
        if (agg["params"]["field"].get(field) != simdjson::SUCCESS)
          continue;
        fields_used.insert(std::string(field));
        const std::string mapped = fieldType(field);
        if (agg_type == "terms")
          EXPECT_EQ(mapped, "keyword") << field;
        else if (agg_type == "date_histogram")
          EXPECT_EQ(mapped, "date") << field;
        else
          EXPECT_TRUE(mapped == "double" || mapped == "long") << field << " " << mapped;
      }
      simdjson::dom::array references = object["references"].get_array();
      ASSERT_EQ(references.size(), 1u);
      std::string_view ref_id;
      ASSERT_EQ(references.at(0)["id"].get(ref_id), simdjson::SUCCESS);
      EXPECT_EQ(ref_id, "crypto-prices");
    }
  }
  EXPECT_EQ(vis_types,
            (std::map<std::string, std::string>{{"coinrelay-price-over-time", "line"},
                                                {"coinrelay-top10-market-cap", "horizontal_bar"},
                                                {"coinrelay-latest-quotes", "table"}}));
  EXPECT_EQ(fields_used,
            (std::set<std::string>{"price", "timestamp", "symbol", "market_cap", "name"}));

  // The dashboard's panels point at the visualizations through references, as exports do.
  ASSERT_TRUE(ids.contains("dashboard/coinrelay-crypto-prices"));
  simdjson::dom::element dashboard;
  ASSERT_EQ(parser.parse(ids["dashboard/coinrelay-crypto-prices"]).get(dashboard),
            simdjson::SUCCESS);
  std::map<std::string, std::string> reference_by_name;
  for (auto reference : dashboard["references"].get_array()) {
    reference_by_name[std::string(reference["name"].get_string().value())] =
        std::string(reference["type"].get_string().value()) + "/" +
        std::string(reference["id"].get_string().value());
  }
  std::string_view panels_text;
  ASSERT_EQ(dashboard["attributes"]["panelsJSON"].get(panels_text), simdjson::SUCCESS);
  simdjson::dom::parser panels_parser;
  simdjson::dom::array panels;
  ASSERT_EQ(panels_parser.parse(panels_text).get(panels), simdjson::SUCCESS);
  EXPECT_EQ(panels.size(), 3u);
  for (auto panel : panels) {
    std::string_view index, ref_name;
    ASSERT_EQ(panel["panelIndex"].get(index), simdjson::SUCCESS);
    ASSERT_EQ(panel["panelRefName"].get(ref_name), simdjson::SUCCESS);
    const std::string name = std::string(index) + ":" + std::string(ref_name);
    ASSERT_TRUE(reference_by_name.contains(name)) << name;
    EXPECT_TRUE(ids.contains(reference_by_name[name])) << reference_by_name[name];
  }

  // Last line: the export summary.
  simdjson::dom::element summary;
  ASSERT_EQ(parser.parse(lines.back()).get(summary), simdjson::SUCCESS);
  int64_t exported = 0, missing = -1;
  ASSERT_EQ(summary["exportedCount"].get(exported), simdjson::SUCCESS);
  ASSERT_EQ(summary["missingRefCount"].get(missing), simdjson::SUCCESS);
  EXPECT_EQ(exported, static_cast<int64_t>(lines.size() - 1));
  EXPECT_EQ(missing, 0);
}

// The command as a person runs it: the URL from --url, the password from the environment, and
// a secret passed as a flag refused before anything is sent.
TEST(KibanaSetupTest, CommandTakesCredentialsFromTheEnvironmentNeverFromFlags) {
  KibanaStub stub({.authorization = kBasic});
  app::CommonOptions options;
  options.assignments = {"kibana.url=" + stub.url(), "kibana.username=coinrelay"};
  ::setenv("COINRELAY_KIBANA_PASSWORD", "s3cret", 1);
  const int code = app::setupKibanaCommand(options, {});
  ::unsetenv("COINRELAY_KIBANA_PASSWORD");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(stub.calls().size(), 3u);
  EXPECT_TRUE(stub.problems().empty()) << ::testing::PrintToString(stub.problems());

  app::CommonOptions flagged;
  flagged.assignments = {"kibana.url=" + stub.url(), "kibana.username=coinrelay",
                         "kibana.password=s3cret"};
  EXPECT_EQ(app::setupKibanaCommand(flagged, {}), 2);
  EXPECT_EQ(stub.calls().size(), 3u) << "nothing sent with a secret given as a flag";
}

}  // namespace
}  // namespace coinrelay
