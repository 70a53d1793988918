#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace coinrelay {
namespace {

TEST(TimeUtilTest, ParsesCoinGeckoTimestamps) {
  EXPECT_EQ(parseIso8601Millis("2024-06-12T09:31:05.412Z"), 1718184665412);
  EXPECT_EQ(parseIso8601Millis("2013-07-06T00:00:00.000Z"), 1373068800000);
  EXPECT_EQ(parseIso8601Millis("2024-06-12T09:31:05Z"), 1718184665000);
  EXPECT_EQ(parseIso8601Millis("2024-06-12T09:31:05.412345678Z"), 1718184665412);
  EXPECT_EQ(parseIso8601Millis("2025-07-25 14:54:00 +0000"), 1753455240000);
  EXPECT_EQ(parseIso8601Millis("1970-01-01T00:00:00.000Z"), 0);
}

TEST(TimeUtilTest, RefusesMalformedTimestamps) {
  EXPECT_FALSE(parseIso8601Millis(""));
  EXPECT_FALSE(parseIso8601Millis("2024-06-12"));
  EXPECT_FALSE(parseIso8601Millis("2024-13-12T09:31:05Z"));
  EXPECT_FALSE(parseIso8601Millis("2024-06-12T09:31:05+02:00"));  // only UTC is accepted
  EXPECT_FALSE(parseIso8601Millis("2024-06-12T09:31:05.Z"));
  EXPECT_FALSE(parseIso8601Millis("yesterday at noon, roughly"));
}

TEST(TimeUtilTest, FormatsRoundTrip) {
  EXPECT_EQ(formatIso8601Millis(1718184665412), "2024-06-12T09:31:05.412Z");
  EXPECT_EQ(formatIso8601Millis(0), "1970-01-01T00:00:00.000Z");
  for (int64_t ms : {int64_t{1}, int64_t{999}, int64_t{1718184665412}, int64_t{4102444799999}}) {
    EXPECT_EQ(parseIso8601Millis(formatIso8601Millis(ms)), ms);
  }
}

TEST(TimeUtilTest, AlignsTicksOnTheWallClock) {
  using std::chrono::seconds;
  EXPECT_EQ(toUnixMillis(nextAlignedTick(fromUnixMillis(61'500), seconds(60))), 120'000);
  EXPECT_EQ(toUnixMillis(nextAlignedTick(fromUnixMillis(60'000), seconds(60))), 120'000);
  EXPECT_EQ(toUnixMillis(nextAlignedTick(fromUnixMillis(59'999), seconds(60))), 60'000);
  EXPECT_EQ(toUnixMillis(nextAlignedTick(fromUnixMillis(7'100), seconds(2))), 8'000);
}

TEST(JsonWriterTest, EscapesAndSeparates) {
  std::string out;
  JsonWriter w(out);
  w.beginObject()
      .field("name", "say \"hi\"\n\\ \x01")
      .field("n", 1.5)
      .field("big", 1.3284561203451e12)
      .field("tiny", -1.2843e-05)
      .field("nan", std::numeric_limits<double>::quiet_NaN())
      .field("int", int64_t{-42})
      .field("none", std::optional<double>())
      .key("list")
      .beginArray()
      .value(true)
      .value("x")
      .endArray()
      .endObject();
  EXPECT_EQ(out,
            R"({"name":"say \"hi\"\n\\ \u0001","n":1.5,"big":1328456120345.1,"tiny":-1.2843e-05,)"
            R"("nan":null,"int":-42,"none":null,"list":[true,"x"]})");
}

TEST(StringsTest, SplitsCsvAndTrims) {
  EXPECT_EQ(splitCsv(" usd, eur,,gbp "), (std::vector<std::string>{"usd", "eur", "gbp"}));
  EXPECT_TRUE(splitCsv("").empty());
  EXPECT_EQ(excerpt("a\nb", 10), "a b");
  EXPECT_EQ(excerpt(std::string(200, 'x'), 5), "xxxxx...");
  // A cut never splits a UTF-8 sequence: "é" is two bytes, the limit falls between them.
  EXPECT_EQ(excerpt("ab\xc3\xa9"
                    "cd",
                    3),
            "ab...");
  EXPECT_EQ(excerpt("ab\xc3\xa9"
                    "cd",
                    4),
            "ab\xc3\xa9...");
}

}  // namespace
}  // namespace coinrelay

#include "telemetry/metrics.h"

namespace coinrelay::telemetry {
namespace {

TEST(MetricsTest, RendersThePrometheusTextFormat) {
  Registry registry;
  registry.counter("coinrelay_upstream_requests_total", "Upstream requests.", {{"status", "200"}})
      .inc(3);
  registry.counter("coinrelay_upstream_requests_total", "Upstream requests.", {{"status", "429"}})
      .inc();
  registry.gauge("coinrelay_credits_left", "Credits left.").set(9950);
  auto& latency = registry.histogram("coinrelay_cycle_seconds", "Cycle duration.", {0.1, 1});
  latency.observe(0.05);
  latency.observe(0.5);
  latency.observe(5);
  EXPECT_EQ(registry.render(),
            "# HELP coinrelay_credits_left Credits left.\n"
            "# TYPE coinrelay_credits_left gauge\n"
            "coinrelay_credits_left 9950\n"
            "# HELP coinrelay_cycle_seconds Cycle duration.\n"
            "# TYPE coinrelay_cycle_seconds histogram\n"
            "coinrelay_cycle_seconds_bucket{le=\"0.1\"} 1\n"
            "coinrelay_cycle_seconds_bucket{le=\"1\"} 2\n"
            "coinrelay_cycle_seconds_bucket{le=\"+Inf\"} 3\n"
            "coinrelay_cycle_seconds_sum 5.55\n"
            "coinrelay_cycle_seconds_count 3\n"
            "# HELP coinrelay_upstream_requests_total Upstream requests.\n"
            "# TYPE coinrelay_upstream_requests_total counter\n"
            "coinrelay_upstream_requests_total{status=\"200\"} 3\n"
            "coinrelay_upstream_requests_total{status=\"429\"} 1\n");
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(renderLabels({{"team", "a\"b\\c\nd"}}), "{team=\"a\\\"b\\\\c\\nd\"}");
}

}  // namespace
}  // namespace coinrelay::telemetry

namespace coinrelay {
namespace {

TEST(ManualClockTest, SleepersWakeOnlyWhenTimeIsAdvancedPastTheirDeadline) {
  ManualClock clock;
  StopSignal stop;
  const auto start = clock.now();
  const auto steady_start = clock.steadyNow();
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.sleepFor(std::chrono::seconds(60), stop);
    woke = true;
  });
  while (clock.sleepers() == 0)
    std::this_thread::yield();
  clock.advance(std::chrono::seconds(59));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(woke.load());
  clock.advance(std::chrono::seconds(1));
  sleeper.join();
  EXPECT_TRUE(woke.load());
  EXPECT_EQ(clock.now() - start, std::chrono::seconds(60));
  EXPECT_EQ(clock.steadyNow() - steady_start, std::chrono::seconds(60));
}

TEST(ManualClockTest, AStopWakesASleeperAndIsReported) {
  ManualClock clock;
  StopSignal stop;
  std::thread sleeper([&] { EXPECT_TRUE(clock.sleepFor(std::chrono::hours(1), stop)); });
  while (clock.sleepers() == 0)
    std::this_thread::yield();
  stop.request();
  sleeper.join();
}

TEST(ManualClockTest, AutoAdvanceRunsWaitsInVirtualTime) {
  ManualClock clock(fromUnixMillis(0), /*auto_advance=*/true);
  StopSignal stop;
  for (int i = 0; i < 1000; ++i)
    EXPECT_FALSE(clock.sleepFor(std::chrono::hours(1), stop));
  EXPECT_EQ(toUnixMillis(clock.now()), 1000LL * 3600 * 1000);
}

TEST(SystemClockTest, SleepsOnTheWallClockAndStopsAtOnce) {
  StopSignal stop;
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(systemClock().sleepFor(std::chrono::milliseconds(5), stop));
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(5));
  stop.request();
  EXPECT_TRUE(systemClock().sleepFor(std::chrono::hours(1), stop));
}

}  // namespace
}  // namespace coinrelay
