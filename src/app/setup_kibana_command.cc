// `coinrelay setup kibana`: provisions the data view and the dashboard of the quote history.

#include "app/setup_kibana_command.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/command_support.h"
#include "kibana/kibana_setup.h"
#include "net/http_client.h"
#include "telemetry/logging.h"

namespace coinrelay::app {

int setupKibanaCommand(const CommonOptions& options, const SetupKibanaOptions& kibana_options) {
  auto config = loadConfig(options, /*require_api_key=*/false);
  if (!config) {
    return kExitUsage;
  }
  if (config->kibana.url.empty()) {
    return requireSetting("setup",
                          "kibana.url is empty: pass --url http://kibana:5601 (or set "
                          "COINRELAY_KIBANA_URL)");
  }
  kibana::SetupOptions setup;
  setup.url = config->kibana.url;
  setup.space = config->kibana.space;
  setup.ca_file = config->kibana.ca_file;
  setup.index = config->elasticsearch.index;
  if (!config->kibana.api_key.empty()) {
    setup.auth.authorization = "ApiKey " + config->kibana.api_key;
  } else {
    setup.auth.username = config->kibana.username;
    setup.auth.password = config->kibana.password;
  }
  if (!kibana_options.objects_file.empty()) {
    std::ifstream in(kibana_options.objects_file, std::ios::binary);
    if (!in) {
      return requireSetting("setup", "--objects: cannot read '" + kibana_options.objects_file +
                                         "'; give a Kibana saved objects export (.ndjson)");
    }
    std::ostringstream content;
    content << in.rdbuf();
    setup.saved_objects = content.str();
  }
  auto log = telemetry::logger("setup");
  auto report = kibana::setupKibana(setup);
  if (!report) {
    return fail("setup", report.error());
  }
  log->info(
      "Kibana {} at {}: data view '{}' (index {}, time field {}) ready; imported {} "
      "saved objects ({})",
      report->kibana_version, net::redactUrl(setup.url), kibana::kDataViewId, setup.index,
      kibana::kTimeField, report->imported.size(), fmt::join(report->imported, ", "));
  log->info("dashboard: {}", report->dashboard_url);
  return 0;
}

}  // namespace coinrelay::app
