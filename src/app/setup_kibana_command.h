#pragma once

#include <string>

#include "app/commands.h"

namespace coinrelay::app {

struct SetupKibanaOptions {
  std::string objects_file;  ///< NDJSON to import instead of the built-in saved objects
};

/// `coinrelay setup kibana`: the data view `crypto-prices` (time field `timestamp`) and the
/// dashboard of deploy/kibana/crypto-prices.ndjson, in Kibana 8.11+ (kibana/kibana_setup.h).
/// Credentials come from the environment or files (kibana.*), never from flags. Returns the exit
/// code: 0, 1 (Kibana failed or refused) or 2 (configuration).
int setupKibanaCommand(const CommonOptions& options, const SetupKibanaOptions& kibana_options);

}  // namespace coinrelay::app
