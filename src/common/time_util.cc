#include "common/time_util.h"

#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace coinrelay {

int64_t toUnixMillis(SystemTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}

SystemTime fromUnixMillis(int64_t ms) {
  return SystemTime(Millis(ms));
}

namespace {

bool readInt(std::string_view text, size_t pos, size_t len, int& out) {
  if (pos + len > text.size())
    return false;
  const char* begin = text.data() + pos;
  for (size_t i = 0; i < len; ++i) {
    if (begin[i] < '0' || begin[i] > '9')
      return false;
  }
  auto [ptr, ec] = std::from_chars(begin, begin + len, out);
  return ec == std::errc() && ptr == begin + len;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm), so parsing
// needs neither timegm() nor the process time zone.
int64_t daysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::optional<int64_t> parseIso8601Millis(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  if (!readInt(text, 0, 4, year) || !readInt(text, 5, 2, month) || !readInt(text, 8, 2, day) ||
      !readInt(text, 11, 2, hour) || !readInt(text, 14, 2, minute) ||
      !readInt(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3)
        millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9)
      return std::nullopt;
    for (size_t i = digits; i < 3; ++i)
      millis *= 10;
  }
  std::string_view zone = text.substr(pos);
  if (zone.starts_with(' '))
    zone.remove_prefix(1);  // x-ratelimit-reset: "... 14:54:00 +0000"
  if (zone != "Z" && zone != "+00:00" && zone != "+0000")
    return std::nullopt;
  const int64_t days =
      daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  return seconds * 1000 + millis;
}

std::string formatIso8601Millis(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

SystemTime nextAlignedTick(SystemTime now, std::chrono::milliseconds interval) {
  const int64_t step = interval.count() > 0 ? interval.count() : 1;
  const int64_t now_ms = toUnixMillis(now);
  return fromUnixMillis((now_ms / step + 1) * step);
}

}  // namespace coinrelay
