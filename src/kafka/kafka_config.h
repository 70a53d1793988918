#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "common/result.h"
#include "config/config.h"

namespace coinrelay::kafka {

using Properties = std::vector<std::pair<std::string, std::string>>;

/// librdkafka properties of the quote producer: acks=all with idempotence so a retried send
/// never duplicates or reorders a coin's messages, and compression to cut broker bytes.
Properties producerProperties(const config::KafkaConfig& config);

/// librdkafka properties of a consumer that commits offsets itself, only after its sink made the
/// messages durable.
Properties consumerProperties(const config::KafkaConfig& config, const std::string& group_id);

/// Builds an RdKafka::Conf; a rejected property is an InvalidArgument naming it.
Result<std::unique_ptr<RdKafka::Conf>> makeConf(const Properties& properties);

}  // namespace coinrelay::kafka
