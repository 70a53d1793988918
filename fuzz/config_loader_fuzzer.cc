// A configuration file as an operator (or a bad merge) may write it, through the TOML loader,
// the table's parsers and the cross-field rules, then `coinrelay config`'s rendering.
// Properties: nothing crashes, and a refusal is one or more lines that say something.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "config/config.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coinrelay;
  static const std::string path =
      fmt::format("{}/coinrelay-fuzz-config-{}.toml",
                  std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp", ::getpid());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  config::RawConfig raw;
  auto loaded = raw.loadFile(path);
  if (!loaded) {
    fuzz::require(!loaded.error().message.empty(), "a refusal says why");
    return 0;
  }
  auto config = config::validate(raw);
  if (!config)
    fuzz::require(!config.error().message.empty(), "a refusal says why");
  fuzz::require(!config::render(raw).empty(), "the effective configuration renders");
  return 0;
}
