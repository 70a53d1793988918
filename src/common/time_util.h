#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coinrelay {

using SystemTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

/// Milliseconds since the Unix epoch, the one time unit stored in quotes and messages.
int64_t toUnixMillis(SystemTime t);
SystemTime fromUnixMillis(int64_t ms);

/// Parses ISO-8601 UTC as CoinGecko writes it ("2024-06-12T09:31:05.412Z"); also accepts no
/// fraction, up to 9 fraction digits and a "+00:00" offset. Returns nullopt on anything else.
std::optional<int64_t> parseIso8601Millis(std::string_view text);

/// Formats as "2024-06-12T09:31:05.412Z" (always milliseconds, always UTC).
std::string formatIso8601Millis(int64_t unix_ms);

/// The first instant strictly after `now` that is a multiple of `interval` since the epoch, so
/// cycles of every process with the same interval line up on the wall clock (:00, :30, ...).
SystemTime nextAlignedTick(SystemTime now, std::chrono::milliseconds interval);

}  // namespace coinrelay
