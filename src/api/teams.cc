#include "api/teams.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include "api/api_error.h"
#include "telemetry/logging.h"

namespace coinrelay::api {

namespace {

std::string presentedKey(const net::Request& request) {
  for (const char* header : {"x-coinrelay-key", "x-cg-pro-api-key", "x-cg-demo-api-key"}) {
    const std::string_view value = request.header(header);
    if (!value.empty())
      return std::string(value);
  }
  for (const char* param : {"x_cg_pro_api_key", "x_cg_demo_api_key"}) {
    std::string value = request.param(param);
    if (!value.empty())
      return value;
  }
  return {};
}

}  // namespace

Result<std::map<std::string, Teams::Team>> Teams::parse(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return makeError(
        ErrorCode::InvalidArgument,
        fmt::format("teams file {}:{}: {}", path, e.source().begin.line, e.description()));
  } catch (const std::exception& e) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("teams file {}: cannot read it: {}", path, e.what()));
  }
  std::map<std::string, Team> by_key;
  const auto* teams = root["teams"].as_table();
  if (teams == nullptr) {
    return makeError(
        ErrorCode::InvalidArgument,
        fmt::format("teams file {}: no [teams.<name>] table; see docs/serving.md", path));
  }
  for (const auto& [name, node] : *teams) {
    const auto* table = node.as_table();
    auto key = table ? (*table)["key"].value<std::string>() : std::nullopt;
    auto quota = table ? (*table)["requests_per_minute"].value<int64_t>() : std::nullopt;
    if (!key || key->size() < 16 || !quota || *quota < 1) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("teams file {}: [teams.{}] needs key = \"<at least 16 "
                                   "characters>\" and requests_per_minute = <1 or more>",
                                   path, name.str()));
    }
    if (by_key.contains(*key)) {
      return makeError(
          ErrorCode::InvalidArgument,
          fmt::format("teams file {}: [teams.{}] reuses another team's key", path, name.str()));
    }
    by_key[*key] = Team{std::string(name.str()), static_cast<int>(*quota)};
  }
  return by_key;
}

Result<std::unique_ptr<Teams>> Teams::load(const std::string& path, const Clock& clock) {
  auto teams = std::make_unique<Teams>(clock);
  teams->path_ = path;
  if (!path.empty()) {
    CR_TRY(teams->by_key_, parse(path));
    std::error_code ignored;
    teams->loaded_mtime_ = std::filesystem::last_write_time(path, ignored);
  }
  return teams;
}

Status Teams::reloadIfChanged() {
  const auto now = clock_.steadyNow();
  if (now - last_check_ < std::chrono::seconds(2))
    return {};
  last_check_ = now;
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  if (ec || mtime == loaded_mtime_)
    return {};
  auto parsed = parse(path_);
  if (!parsed)
    return parsed.error();  // keep serving with the previous, valid file
  // Keep each team's use of the current minute across a reload.
  for (auto& [key, team] : *parsed) {
    for (const auto& [old_key, old] : by_key_) {
      if (old.name == team.name) {
        team.window_minute = old.window_minute;
        team.used = old.used;
      }
    }
  }
  by_key_ = std::move(parsed).value();
  loaded_mtime_ = mtime;
  telemetry::logger("serve")->info("reloaded {} teams from {}", by_key_.size(), path_);
  return {};
}

Teams::Admission Teams::admit(const net::Request& request) {
  if (path_.empty())
    return Admission{"anonymous", std::nullopt};
  std::lock_guard lock(mutex_);
  if (auto status = reloadIfChanged(); !status) {
    telemetry::logger("serve")->error("{} (still using the previous teams)",
                                      status.error().message);
  }
  const std::string key = presentedKey(request);
  auto it = key.empty() ? by_key_.end() : by_key_.find(key);
  if (it == by_key_.end()) {
    return Admission{
        "unknown",
        errorReply(ApiErrorKind::UnknownKey,
                   key.empty()
                       ? "API Key Missing: send your team's coinrelay key in x-cg-pro-api-key"
                       : "Invalid API Key: this key belongs to no team")};
  }
  Team& team = it->second;
  const auto now = clock_.now();
  const int64_t minute =
      std::chrono::duration_cast<std::chrono::minutes>(now.time_since_epoch()).count();
  if (team.window_minute != minute) {
    team.window_minute = minute;
    team.used = 0;
  }
  if (team.used >= team.requests_per_minute) {
    net::Reply reply =
        errorReply(ApiErrorKind::RateLimited,
                   fmt::format("You've exceeded your team's rate limit of {} requests per minute.",
                               team.requests_per_minute));
    const auto seconds_left =
        60 - std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() % 60;
    reply.headers.emplace_back("retry-after", std::to_string(seconds_left));
    return Admission{team.name, std::move(reply)};
  }
  ++team.used;
  return Admission{team.name, std::nullopt};
}

}  // namespace coinrelay::api
