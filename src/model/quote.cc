#include "model/quote.h"

#include <fmt/format.h>

namespace coinrelay::model {

std::string observationKey(const Quote& quote) {
  return fmt::format("{}:{}:{}", quote.id, quote.vs_currency, quote.last_updated_ms);
}

}  // namespace coinrelay::model
