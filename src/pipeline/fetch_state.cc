#include "pipeline/fetch_state.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "common/json_read.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "telemetry/logging.h"

namespace coinrelay::pipeline {

std::string FetchState::toJson() const {
  std::string out;
  JsonWriter(out)
      .beginObject()
      .field("version", int64_t{1})
      .field("month", month)
      .field("credits_used", credits_used)
      .field("last_cycle_ms", last_cycle_ms)
      .field("updated_ms", updated_ms)
      .field("owner", owner)
      .endObject();
  return out;
}

Result<FetchState> FetchState::fromJson(std::string_view text, simdjson::dom::parser& parser) {
  simdjson::padded_string padded(text);
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return makeError(ErrorCode::DataLoss, "fetch state is not a JSON object: " + excerpt(text));
  }
  std::string type_error;
  FetchState state;
  state.month = std::string(json::optionalString(obj, "month", &type_error).value_or(""));
  state.credits_used = json::optionalInteger(obj, "credits_used", &type_error).value_or(0);
  state.last_cycle_ms = json::optionalInteger(obj, "last_cycle_ms", &type_error).value_or(0);
  state.updated_ms = json::optionalInteger(obj, "updated_ms", &type_error).value_or(0);
  state.owner = std::string(json::optionalString(obj, "owner", &type_error).value_or(""));
  if (!type_error.empty()) {
    return makeError(ErrorCode::DataLoss,
                     "fetch state field " + type_error + " has the wrong type: " + excerpt(text));
  }
  return state;
}

std::optional<FetchState> FileCoordinator::loadState() {
  std::ifstream in(path_);
  if (!in)
    return std::nullopt;  // first start
  std::stringstream text;
  text << in.rdbuf();
  auto state = FetchState::fromJson(text.str(), parser_);
  if (!state) {
    telemetry::logger("fetch")->warn("ignoring {}: {}", path_, state.error().message);
    return std::nullopt;
  }
  return *state;
}

void FileCoordinator::saveState(const FetchState& state) {
  const std::string tmp = path_ + ".tmp";
  const std::string text = state.toJson() + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  if (fd >= 0)
    ::close(fd);
  ok = ok && std::rename(tmp.c_str(), path_.c_str()) == 0;
  if (!ok) {
    static bool warned = false;
    if (!warned) {
      telemetry::logger("fetch")->warn(
          "cannot write the fetch state to {}; credits used will not survive a restart: check "
          "budget.state_file",
          path_);
      warned = true;
    }
  }
}

std::string processIdentity() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace coinrelay::pipeline
