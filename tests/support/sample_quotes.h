#pragma once

#include "model/quote.h"

namespace coinrelay::testing {

/// Ethereum in usd with every field of CoinGecko's record set (max_supply excepted: it has none).
inline model::Quote fullQuote() {
  model::Quote q;
  q.id = "ethereum";
  q.symbol = "eth";
  q.name = "Ethereum";
  q.vs_currency = "usd";
  q.last_updated_ms = 1718184662118;
  q.fetched_ms = 1718184700000;
  q.price = 3561.84;
  q.market_cap = 428103775114;
  q.market_cap_rank = 2;
  q.volume_24h = 14123876540;
  q.change_24h = 1.75025;
  q.image = "https://coin-images.coingecko.com/coins/images/279/large/ethereum.png";
  q.fully_diluted_valuation = 428103775114;
  q.high_24h = 3598.02;
  q.low_24h = 3482.11;
  q.price_change_24h = 61.27;
  q.market_cap_change_24h = -7451230012;
  q.market_cap_change_percentage_24h = 1.77146;
  q.circulating_supply = 120174012.773105;
  q.total_supply = 120174012.773105;
  q.ath = 4878.26;
  q.ath_change_percentage = -26.98712;
  q.ath_date_ms = 1636554259604;
  q.atl = 0.432979;
  q.atl_change_percentage = 822341.55417;
  q.atl_date_ms = 1445299200000;
  q.roi = model::Roi{63.51804113920761, "btc", 6351.804113920761};
  return q;
}

/// Only what the parser insists on; every optional number, date and roi absent (all null).
inline model::Quote bareQuote() {
  model::Quote q;
  q.id = "obscure-token";
  q.symbol = "obs";
  q.name = "Obscure";
  q.vs_currency = "eur";
  q.last_updated_ms = 0;
  q.fetched_ms = 1;
  return q;
}

}  // namespace coinrelay::testing
