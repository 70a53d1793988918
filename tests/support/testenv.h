#pragma once

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "support/process.h"

namespace coinrelay::testing {

/// The binary under test and the source tree (set by tests/CMakeLists.txt).
inline const std::string kBinary = COINRELAY_BINARY;
inline const std::string kSourceDir = COINRELAY_SOURCE_DIR;
/// tools/testenv: real Kafka and OpenSearch (testenv), and a real Elasticsearch 8.
inline const std::string kTestenv = kSourceDir + "/tools/testenv/testenv";
inline const std::string kTestenvElasticsearch = kSourceDir + "/tools/testenv/elasticsearch";

/// The variable's value, or `fallback` when it is unset or empty.
inline std::string envOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

/// The servers every integration test shares: the testenv instance the run started (named by
/// TESTENV_INSTANCE, the default one when unset), on TESTENV_KAFKA_PORT and
/// TESTENV_OPENSEARCH_PORT. Tests write only uniquely named topics and indices there and never
/// stop these servers.
inline const std::string kSharedBrokers = "127.0.0.1:" + envOr("TESTENV_KAFKA_PORT", "9092");
inline const std::string kSharedOpenSearch =
    "http://127.0.0.1:" + envOr("TESTENV_OPENSEARCH_PORT", "9200");

/// A testenv instance of one test alone (named `name-<pid>`, on free ports), for the tests that
/// stop and start servers: the shared instance is never disturbed. down() removes it with its
/// data; so does the destructor, when testenv `up` ran and the test did not call down().
class OwnTestenv {
 public:
  explicit OwnTestenv(const std::string& name)
      : instance_(name + "-" + std::to_string(::getpid())),
        kafka_port_(freePortWith(1)),         // the KRaft controller takes the next port
        opensearch_port_(freePortWith(100)),  // transport: +100
        elasticsearch_port_(freePortWith(100)) {}
  ~OwnTestenv() {
    if (started_ && !down_)
      (void)down();
  }
  OwnTestenv(const OwnTestenv&) = delete;
  OwnTestenv& operator=(const OwnTestenv&) = delete;

  /// tools/testenv/testenv with this instance's variables, e.g. {"up", "kafka"}.
  CommandResult testenv(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    started_ = started_ || (!args.empty() && args[0] == "up");
    return run(kTestenv, args, timeout);
  }
  /// tools/testenv/elasticsearch with this instance's variables and security on.
  CommandResult elasticsearch(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout) const {
    return run(kTestenvElasticsearch, args, timeout, {"TESTENV_ELASTICSEARCH_SECURE=1"});
  }
  CommandResult down() {
    down_ = true;
    return testenv({"down"}, std::chrono::seconds(120));
  }

  bool portsFound() const {
    return kafka_port_ != 0 && opensearch_port_ != 0 && elasticsearch_port_ != 0;
  }
  const std::string& instance() const { return instance_; }
  std::string brokers() const { return "127.0.0.1:" + std::to_string(kafka_port_); }
  std::string openSearch() const { return "http://127.0.0.1:" + std::to_string(opensearch_port_); }
  int elasticsearchPort() const { return elasticsearch_port_; }
  /// Where tools/testenv/elasticsearch keeps this instance's CA and password.
  std::string elasticsearchRunDir() const {
    return kSourceDir + "/build/testenv/instances/" + instance_ + "/run/elasticsearch";
  }

 private:
  CommandResult run(const std::string& script, const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout,
                    const std::vector<std::string>& extra_env = {}) const {
    std::vector<std::string> argv = {
        "/usr/bin/env", "TESTENV_INSTANCE=" + instance_,
        "TESTENV_KAFKA_PORT=" + std::to_string(kafka_port_),
        "TESTENV_OPENSEARCH_PORT=" + std::to_string(opensearch_port_),
        "TESTENV_ELASTICSEARCH_PORT=" + std::to_string(elasticsearch_port_)};
    argv.insert(argv.end(), extra_env.begin(), extra_env.end());
    argv.push_back(script);
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv, timeout);
  }

  std::string instance_;
  int kafka_port_;
  int opensearch_port_;
  int elasticsearch_port_;
  bool started_ = false;
  bool down_ = false;
};

}  // namespace coinrelay::testing
