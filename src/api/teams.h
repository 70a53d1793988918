#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "net/http_server.h"

namespace coinrelay::api {

/// Optional API keys for internal teams, each with a request quota per minute, read from a
/// TOML file (`[teams.<name>]` with `key` and `requests_per_minute`) that is re-read when it
/// changes. Teams send their key where CoinGecko clients already send one (x-cg-pro-api-key,
/// x-cg-demo-api-key or the x_cg_*_api_key query parameters), or as x-coinrelay-key.
/// Quotas count per calendar minute of `clock`.
/// Threading: admit() from any server thread.
class Teams {
 public:
  /// Empty path: no teams, every request is admitted as team "anonymous".
  static Result<std::unique_ptr<Teams>> load(const std::string& path,
                                             const Clock& clock = systemClock());
  explicit Teams(const Clock& clock = systemClock()) : clock_(clock) {}

  struct Admission {
    std::string team;                   ///< for metrics; never the key
    std::optional<net::Reply> refusal;  ///< 401 or 429, CoinGecko-shaped
  };
  Admission admit(const net::Request& request);
  bool enabled() const { return !path_.empty(); }

 private:
  struct Team {
    std::string name;
    int requests_per_minute = 0;
    int64_t window_minute = 0;
    int used = 0;
  };
  Status reloadIfChanged();
  static Result<std::map<std::string, Team>> parse(const std::string& path);

  const Clock& clock_;
  std::string path_;
  std::mutex mutex_;
  std::map<std::string, Team> by_key_;
  std::filesystem::file_time_type loaded_mtime_{};
  SteadyTime last_check_{};
};

}  // namespace coinrelay::api
