#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace coinrelay::elasticsearch {

/// Elasticsearch and OpenSearch refuse a document id longer than this (the whole bulk request
/// fails validation), so such a message is dead-lettered before it is ever sent.
inline constexpr size_t kMaxDocumentIdBytes = 512;

/// Whether a quote message can go into a `_bulk` body exactly as it is, without decoding it
/// into a Quote and encoding it again; if so, writes its document id (the observation key
/// `<id>:<vs_currency>:<last_updated ms>`) into `id` and returns true.
///
/// The quotes topic carries v1 documents as coinrelay's encoder writes them, which is what the
/// index stores: re-encoding such a message rebuilds its own bytes. A message passes when it
/// is one line of JSON (no line break, `{` first and `}` last) holding exactly the fields of
/// the v1 document in the encoder's order and nothing else, each of the type the decoder
/// accepts without changing it: schema_version 1; non-empty id, name and vs_currency; an upper
/// case symbol; a string image; numbers or null; whole numbers or null for integers; dates in
/// the encoder's form (`2024-06-12T09:31:02.118Z`, a real calendar date) or null where
/// allowed; roi null or exactly {times, currency, percentage}; an id of at most
/// kMaxDocumentIdBytes. Numbers and strings pass as written: the engine and every JSON reader
/// take the same value from `-50` and `-50.0`, or from an escaped and a plain string.
///
/// Anything else returns false, and the caller decodes the message with the one codec, which
/// re-encodes it or says why it is not a quote (a dead letter): which messages are indexed,
/// dead-lettered or refused, and what the index stores, do not depend on this shortcut.
bool passesAsIs(std::string_view value, simdjson::dom::parser& parser, std::string& id);

/// The milliseconds since the epoch of a date in the encoder's exact form
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`, a real calendar date, seconds below 60); nullopt for any other
/// text, even one the decoder reads (it would write it back differently).
std::optional<int64_t> encodedDateMillis(std::string_view text);

}  // namespace coinrelay::elasticsearch
