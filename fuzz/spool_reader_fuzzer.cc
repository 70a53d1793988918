// A spool directory as a crash, a full disk or damage may leave it: the fuzzer writes a
// segment file (its first sequence number and its bytes) and the `acked` file, then the spool
// opens it, reads what it holds, takes one more record and acknowledges. Properties: nothing
// crashes, every record read back passed its CRC, and the appended record is read back last.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "fuzz_support.h"
#include "sinks/spool.h"
#include "telemetry/logging.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  coinrelay::telemetry::initLogging("off", "text");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coinrelay;
  // tmpfs when there is one: the spool syncs every append.
  static const std::string dir =
      fmt::format("{}/coinrelay-fuzz-spool-{}",
                  std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Layout of the input: 8 bytes of first sequence number, 1 byte of length of the acked
  // file's text, that text, then the segment's bytes.
  uint64_t first_seq = 1;
  size_t at = 0;
  if (size >= 8) {
    std::memcpy(&first_seq, data, 8);
    at = 8;
  }
  std::string acked;
  if (at < size) {
    const size_t length = std::min<size_t>(data[at], size - at - 1);
    acked.assign(reinterpret_cast<const char*>(data) + at + 1, length);
    at += 1 + length;
  }
  if (!acked.empty())
    std::ofstream(dir + "/acked") << acked;
  std::ofstream(dir + fmt::format("/seg-{:020}.log", first_seq), std::ios::binary)
      .write(reinterpret_cast<const char*>(data) + at, static_cast<std::streamsize>(size - at));

  auto spool = sinks::Spool::open(dir, 1 << 20);
  if (!spool)
    return 0;
  auto before = (*spool)->peek(100'000, 1 << 22);
  fuzz::require(before.has_value(), "a spool that opened can be read");
  for (const auto& record : *before)
    fuzz::require(record.payload.size() <= (1u << 22), "records are bounded");
  if ((*spool)->append({"fuzz-record"})) {
    auto after = (*spool)->peek(100'000, 1 << 22);
    fuzz::require(after.has_value() && !after->empty(), "the appended record is there");
    fuzz::require(after->back().payload == "fuzz-record", "appended last, read back last");
    (void)(*spool)->ack(after->back().seq);
    fuzz::require((*spool)->stats().records == 0, "everything acknowledged");
  }
  return 0;
}
