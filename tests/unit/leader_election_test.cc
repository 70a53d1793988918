// The election of the active fetcher against librdkafka's mock cluster, with a session timeout
// shortened to 3.5 s: one leader among several members, a takeover when the leader leaves or
// dies, and the fetch state it left read by the next leader before it leads. (Each test pays the
// mock's 3 s wait for a group's first members, so each tells a whole story.)

#include "pipeline/leader_election.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "support/kafka_reader.h"
#include "support/mock_kafka.h"
#include "support/process.h"

namespace coinrelay::pipeline {
namespace {

using namespace std::chrono_literals;
using coinrelay::testing::eventually;
using Members = std::vector<std::unique_ptr<KafkaLeaderElection>>;

// Above the mock's 3 s wait for the first members to join, during which a member that waits for its
// JoinGroup answer counts as silent.
constexpr auto kSession = 3500ms;

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_.createTopic("fetch-state", 1);
    config_.kafka.brokers = kafka_.brokers();
    config_.kafka.replication_factor = 1;
    config_.fetch.group_id = "fetchers";
    config_.fetch.state_topic = "fetch-state";
  }

  Members join(int count) {
    Members members;
    LeaderElectionOptions options;
    options.session_timeout = kSession;
    for (int i = 0; i < count; ++i) {
      auto member = KafkaLeaderElection::create(config_, options);
      EXPECT_TRUE(member) << member.error().message;
      if (member)
        members.push_back(std::move(member).value());
    }
    return members;
  }

  static int leaders(const Members& members) {
    int n = 0;
    for (const auto& member : members)
      n += member && member->leading() ? 1 : 0;
    return n;
  }
  static size_t leaderOf(const Members& members) {
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i] && members[i]->leading())
        return i;
    }
    return members.size();
  }
  /// Exactly one member leads, within `timeout`; its index.
  static size_t oneLeader(const Members& members, std::chrono::milliseconds timeout) {
    EXPECT_TRUE(eventually([&] { return leaders(members) == 1; }, timeout, 10ms))
        << leaders(members) << " members lead";
    return leaderOf(members);
  }

  /// The leader records two states, the way it does after two cycles; the last one, once both
  /// are in the topic.
  FetchState saveTwoStates(KafkaLeaderElection& leader) {
    FetchState older;
    older.month = "2025-06";
    older.credits_used = 41;
    older.last_cycle_ms = 1'750'000'000'000;
    FetchState last = older;
    last.credits_used = 42;
    last.last_cycle_ms = older.last_cycle_ms + 60'000;
    leader.saveState(older);
    leader.saveState(last);
    EXPECT_TRUE(eventually(
        [&] { return coinrelay::testing::readTopic(kafka_.brokers(), "fetch-state").size() == 2; },
        10s, 20ms));
    return last;
  }
  static void expectState(const std::optional<FetchState>& state, const FetchState& expected) {
    ASSERT_TRUE(state.has_value()) << "the new leader leads without the state";
    EXPECT_EQ(state->month, expected.month);
    EXPECT_EQ(state->credits_used, expected.credits_used);
    EXPECT_EQ(state->last_cycle_ms, expected.last_cycle_ms);
  }

  coinrelay::testing::MockKafka kafka_;
  config::Config config_;
};

TEST_F(LeaderElectionTest, OneOfThreeLeadsAndWhenItLeavesAnotherLeadsWithTheStateItLeft) {
  Members members = join(3);
  ASSERT_EQ(members.size(), 3u);
  const size_t leader = oneLeader(members, 15s);
  ASSERT_LT(leader, members.size());
  // It stays so while nobody comes or goes.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(leaders(members), 1);
    ASSERT_TRUE(members[leader]->leading());
    std::this_thread::sleep_for(10ms);
  }
  for (size_t i = 0; i < members.size(); ++i)
    EXPECT_EQ(members[i]->role(), i == leader ? "leader" : "standby");
  EXPECT_FALSE(members[leader]->loadState().has_value()) << "a new topic holds no state";
  const FetchState state = saveTwoStates(*members[leader]);

  members[leader].reset();  // a clean stop leaves the group
  const auto left = std::chrono::steady_clock::now();
  const size_t next = oneLeader(members, 10s);
  ASSERT_LT(next, members.size());
  EXPECT_NE(next, leader);
  expectState(members[next]->loadState(), state);
  std::printf("[ takeover ] after a clean stop: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - left)
                                         .count()));
}

TEST_F(LeaderElectionTest, WhenTheLeaderDiesAStandbyLeadsOnceItsSessionExpiresWithTheStateItLeft) {
  Members members = join(2);
  ASSERT_EQ(members.size(), 2u);
  const size_t leader = oneLeader(members, 15s);
  ASSERT_LT(leader, members.size());
  const FetchState state = saveTwoStates(*members[leader]);
  const uint64_t term = members[1 - leader]->term();

  members[leader]->abandon();  // killed: it never says goodbye
  const auto died = std::chrono::steady_clock::now();
  StopSignal stop;
  ASSERT_TRUE(members[1 - leader]->awaitLead(stop, 15s));
  const auto took = std::chrono::steady_clock::now() - died;
  // Leading means the state is already read: the first request counts on from it.
  expectState(members[1 - leader]->loadState(), state);
  EXPECT_GT(members[1 - leader]->term(), term);
  EXPECT_GE(took, kSession / 2) << "noticed through the session, not a goodbye";
  std::printf(
      "[ takeover ] after a death: %lld ms (session timeout %lld ms)\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      static_cast<long long>(kSession.count()));
}

}  // namespace
}  // namespace coinrelay::pipeline
