// Deribit frame codec on simdjson On-Demand.
//
// Every object is walked once, in document order, with a switch on the key: On-Demand is a
// forward-only cursor, so reading fields in the order the venue writes them is the fast path and
// key order is never assumed (a key the switch does not know is skipped). The only rewinds are for
// a `params` whose `data` precedes its `channel`, which Deribit does not send but JSON allows.
//
// Fields are used in place inside the iteration result (`value_unsafe()` after checking
// `error()`): copying each field out with `.get(field)` goes through the stack and was measured
// as a store-forwarding stall per field, about half the time of a ticker.
//
// Events are staged in a buffer reserved at construction and handed to the sink only after the
// whole frame has been walked to its end, so a frame that turns out to be truncated or malformed
// further on pushes nothing.

#include "vrp/feeds/deribit/codec.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

namespace vrp::feeds::deribit {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

constexpr std::size_t initial_capacity_bytes = 1 << 20;       // grows once for a larger frame
constexpr std::size_t initial_pending_events = 4096;          // a full markprice.options chain
constexpr std::int64_t max_timestamp_ms = 7'258'118'400'000;  // 2200-01-01T00:00Z
constexpr std::int64_t ns_per_ms = 1'000'000;

// A field's key as it sits in the frame (after its opening quote), compared without unescaping
// or measuring it: `is` compares the literal and then the closing quote. It reads at most the
// literal's length + 1 bytes from the key's start, which stays inside the frame plus its padding
// (our longest key is 24 bytes, the padding 64). A key with escapes matches nothing and is skipped.
struct key_ref {
  explicit key_ref(od::field& f) : p(f.key().raw()) {}
  const char* p;

  char first() const { return p[0]; }
  template <std::size_t N>
  bool is(const char (&literal)[N]) const {
    static_assert(N <= simdjson::SIMDJSON_PADDING);
    return std::memcmp(p, literal, N - 1) == 0 && p[N - 1] == '"';
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_json_number_text(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

bool starts_non_finite(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  if (s.size() >= 3) {
    const char a = lower(s[0]), b = lower(s[1]), c = lower(s[2]);
    return (a == 'n' && b == 'a' && c == 'n') || (a == 'i' && b == 'n' && c == 'f');
  }
  return false;
}

// Why a value that is not a plain JSON number could not be read as one. Cold path.
[[gnu::noinline]] reject_reason classify_non_number(od::value& v, bool& is_null) {
  is_null = false;
  const std::string_view raw = trim(v.raw_json_token());
  if (raw.empty()) return reject_reason::not_json;
  switch (raw[0]) {
    case 'n':
      if (raw == "null") {
        is_null = true;
        return reject_reason::none;
      }
      return reject_reason::not_json;
    case '"':
    case '{':
    case '[':
      return reject_reason::wrong_type;
    case 't':
    case 'f':
      return raw == "true" || raw == "false" ? reject_reason::wrong_type : reject_reason::not_json;
    default:
      break;
  }
  if (starts_non_finite(raw)) return reject_reason::non_finite;
  // A well-formed number simdjson refused is out of double range (1e999).
  if (is_json_number_text(raw)) return reject_reason::non_finite;
  return reject_reason::not_json;
}

// A JSON number, or null -> NaN. Always inlined so simdjson's number parser works on the value
// iterator in registers; hot loops keep one call site.
[[gnu::always_inline]] inline reject_reason read_number(od::value& v, double& out) {
  double d;
  if (v.get_double().get(d) == simdjson::SUCCESS) {
    if (!std::isfinite(d)) return reject_reason::non_finite;
    out = d;
    return reject_reason::none;
  }
  bool is_null = false;
  const reject_reason r = classify_non_number(v, is_null);
  if (is_null) out = core::missing;
  return r;
}

// A price or amount: a number >= 0, or null -> NaN.
inline reject_reason read_non_negative(od::value& v, double& out) {
  const reject_reason r = read_number(v, out);
  if (r == reject_reason::none && out < 0.0) return reject_reason::negative_price;
  return r;
}

// Venue milliseconds -> ns; the range check is part of the contract (bad_timestamp).
inline reject_reason read_timestamp(od::value& v, std::int64_t& ts_ns) {
  std::int64_t ms;
  if (v.get_int64().get(ms) == simdjson::SUCCESS) {
    if (ms <= 0 || ms > max_timestamp_ms) return reject_reason::bad_timestamp;
    ts_ns = ms * ns_per_ms;
    return reject_reason::none;
  }
  bool is_null = false;
  const reject_reason r = classify_non_number(v, is_null);
  // null, a fraction or an integer beyond int64 are all timestamps we cannot use.
  if (is_null || r == reject_reason::none || r == reject_reason::non_finite) {
    const std::string_view raw = trim(v.raw_json_token());
    if (is_null || is_json_number_text(raw)) return reject_reason::bad_timestamp;
  }
  return r;
}

// A simdjson error as a rejection: a value of the wrong JSON type, or a broken document.
inline reject_reason reject_of(error_code e) {
  if (e == simdjson::SUCCESS) return reject_reason::none;
  if (e == simdjson::INCORRECT_TYPE) return reject_reason::wrong_type;
  return reject_reason::not_json;
}

inline reject_reason read_string(od::value& v, std::string_view& out) {
  return reject_of(v.get_string().get(out));
}

inline bool is_json_error(reject_reason r) {
  return r == reject_reason::not_json;
}

// Deribit sends 0 price with 0 amount for an empty side.
inline bool empty_side(double price, double amount) {
  return price == 0.0 && amount == 0.0;
}

}  // namespace

std::string_view channel_kind_name(channel_kind c) {
  switch (c) {
    case channel_kind::none:
    case channel_kind::count_:
      return "control";
    case channel_kind::ticker:
      return "ticker";
    case channel_kind::markprice:
      return "markprice";
    case channel_kind::price_index:
      return "price_index";
    case channel_kind::volatility_index:
      return "volatility_index";
    case channel_kind::platform_state:
      return "platform_state";
    case channel_kind::other:
      return "other";
  }
  return "control";
}

std::string_view reason_name(reject_reason r) {
  switch (r) {
    case reject_reason::none:
      return "none";
    case reject_reason::not_json:
      return "not_json";
    case reject_reason::not_object:
      return "not_object";
    case reject_reason::missing_field:
      return "missing_field";
    case reject_reason::wrong_type:
      return "wrong_type";
    case reject_reason::bad_instrument:
      return "bad_instrument";
    case reject_reason::table_full:
      return "table_full";
    case reject_reason::non_finite:
      return "non_finite";
    case reject_reason::negative_price:
      return "negative_price";
    case reject_reason::bad_timestamp:
      return "bad_timestamp";
    case reject_reason::unknown_method:
      return "unknown_method";
    case reject_reason::count_:
      break;
  }
  return "unknown";
}

std::size_t required_padding() {
  return simdjson::SIMDJSON_PADDING;
}

struct codec::impl {
  explicit impl(core::instrument_table& table)
      : instruments(table), last_underlying(table.capacity(), core::missing) {
    pending.reserve(initial_pending_events);
    // If this fails, iterate() allocates (or fails) on the first frame instead.
    if (parser.allocate(initial_capacity_bytes) != simdjson::SUCCESS) return;
  }

  // What the walk of `params` found.
  struct params_state {
    std::string_view channel;
    std::string_view type;
    bool has_channel = false;
    bool has_data = false;
  };

  core::instrument_table& instruments;
  od::parser parser;
  std::vector<double> last_underlying;  // by instrument id: the latest ticker underlying_price
  std::vector<core::event> pending;     // this frame's events, pushed once the frame is whole
  codec_stats stats;

  // Per-frame.
  std::uint32_t frame_rejects[static_cast<std::size_t>(reject_reason::count_)] = {};
  bool frame_ignored = false;
  std::int64_t recv_ns = 0;
  frame_info* info = nullptr;

  frame_info decode(std::string_view frame, std::int64_t recv, core::event_sink& sink);

  reject_reason walk(std::string_view frame);
  reject_reason walk_params(od::value& v, params_state& p);
  reject_reason decode_data(std::string_view channel, od::value& data);
  reject_reason decode_ticker(std::string_view instrument, od::value& data);
  reject_reason decode_option_ticker(core::instrument_id id, od::object& obj);
  reject_reason decode_perpetual_ticker(core::instrument_id id, od::object& obj);
  reject_reason decode_markprice(od::value& data);
  reject_reason decode_markprice_entry(od::value& entry);
  reject_reason decode_index(std::string_view index_name, od::value& data, bool dvol);
  reject_reason decode_platform_state(od::value& data);

  // A data-level rejection of one entry (or of the whole data of a single-entry channel). Counted
  // in the stats only once the frame is known to be whole.
  void reject_entry(reject_reason r) {
    ++info->rejected;
    ++frame_rejects[static_cast<std::size_t>(r)];
    if (info->reject == reject_reason::none) info->reject = r;
  }

  // The id of `name`, interning it on first sight.
  reject_reason intern(std::string_view name, core::instrument_id& id) {
    id = instruments.find(name);
    if (id != core::no_instrument) return reject_reason::none;
    core::instrument_info parsed;
    if (!parse_instrument_name(name, parsed)) return reject_reason::bad_instrument;
    id = instruments.add(parsed);
    if (id == core::no_instrument) return reject_reason::table_full;
    return reject_reason::none;
  }
};

frame_info codec::impl::decode(std::string_view frame, std::int64_t recv, core::event_sink& sink) {
  frame_info out;
  info = &out;
  recv_ns = recv;
  pending.clear();
  frame_ignored = false;
  for (auto& n : frame_rejects) n = 0;
  ++stats.frames;
  stats.bytes += frame.size();

  const reject_reason r = walk(frame);
  const auto ch =
      static_cast<std::size_t>(r == reject_reason::none ? out.channel : channel_kind::none);
  ++stats.frames_by_channel[ch];
  stats.bytes_by_channel[ch] += frame.size();
  if (r != reject_reason::none) {
    out = frame_info{};
    out.kind = frame_kind::malformed;
    out.reject = r;
    ++stats.rejected[static_cast<std::size_t>(r)];
    pending.clear();
    return out;
  }
  for (std::size_t i = 0; i < std::size(frame_rejects); ++i) stats.rejected[i] += frame_rejects[i];
  if (frame_ignored) ++stats.ignored_channel;
  for (const core::event& e : pending) sink.push(e);
  out.events = static_cast<std::uint32_t>(pending.size());
  stats.events += pending.size();
  pending.clear();
  return out;
}

// Walks the whole frame. Returns a reason only when the frame is malformed as a whole; data-level
// rejections are recorded in `info` by the decoders.
reject_reason codec::impl::walk(std::string_view frame) {
  od::document doc;
  if (parser.iterate(frame.data(), frame.size(), frame.size() + simdjson::SIMDJSON_PADDING)
          .get(doc) != simdjson::SUCCESS) {
    return reject_reason::not_json;
  }
  od::object root;
  if (const error_code e = doc.get_object().get(root); e != simdjson::SUCCESS) {
    if (e != simdjson::INCORRECT_TYPE) return reject_reason::not_json;
    // Another JSON value at the top: judge by its first character (no full validation).
    std::size_t i = 0;
    while (i < frame.size() &&
           (frame[i] == ' ' || frame[i] == '\n' || frame[i] == '\r' || frame[i] == '\t')) {
      ++i;
    }
    if (i == frame.size()) return reject_reason::not_json;
    const char c = frame[i];
    const std::string_view rest = trim(frame.substr(i));
    const bool plausible = (c == '[' && rest.back() == ']') ||
                           (c == '"' && rest.size() >= 2 && rest.back() == '"') || rest == "true" ||
                           rest == "false" || rest == "null" || is_json_number_text(rest);
    return plausible ? reject_reason::not_object : reject_reason::not_json;
  }

  std::string_view method;
  bool has_method = false;
  bool has_result = false;
  bool has_error = false;
  bool error_has_code = false;
  params_state params;
  bool has_params = false;
  reject_reason data_shape = reject_reason::none;  // params or method of the wrong type

  for (auto fr : root) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    const key_ref key{f};
    od::value& v = f.value();
    if (key.is("params")) {
      has_params = true;
      const reject_reason r = walk_params(v, params);
      if (is_json_error(r)) return r;
      if (r != reject_reason::none && data_shape == reject_reason::none) data_shape = r;
    } else if (key.is("method")) {
      const reject_reason r = read_string(v, method);
      if (is_json_error(r)) return r;
      if (r != reject_reason::none && data_shape == reject_reason::none) data_shape = r;
      has_method = r == reject_reason::none;
    } else if (key.is("id")) {
      std::int64_t id;
      if (v.get_int64().get(id) == simdjson::SUCCESS) {
        info->rpc_id = id;
      } else {
        // null or a non-integer id: no id we could have sent; keep -1 (the walk skips it).
        bool is_null = false;
        if (is_json_error(classify_non_number(v, is_null))) return reject_reason::not_json;
      }
    } else if (key.is("result")) {
      has_result = true;
    } else if (key.is("error")) {
      has_error = true;
      od::object err;
      if (v.get_object().get(err) == simdjson::SUCCESS) {
        for (auto efr : err) {
          if (efr.error() != simdjson::SUCCESS) return reject_reason::not_json;
          od::field& ef = efr.value_unsafe();
          if (key_ref{ef}.is("code")) {
            std::int64_t code;
            if (ef.value().get_int64().get(code) == simdjson::SUCCESS) {
              info->error_code = code;
              error_has_code = true;
            }
          }
        }
      }
    }
    // Other keys (jsonrpc, usIn, usOut, usDiff, testnet) are skipped by the next iteration.
  }
  // The object must end the frame (no trailing content).
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return reject_reason::not_json;

  if (has_error) {
    info->kind = frame_kind::error_response;
    if (!error_has_code) reject_entry(reject_reason::missing_field);
    pending.clear();
    return reject_reason::none;
  }
  if (has_result) {
    info->kind = frame_kind::response;
    pending.clear();
    return reject_reason::none;
  }
  if (data_shape == reject_reason::wrong_type) return reject_reason::wrong_type;
  if (!has_method) {
    pending.clear();
    return data_shape != reject_reason::none ? data_shape : reject_reason::missing_field;
  }
  if (method == "subscription") {
    if (!has_params || !params.has_channel || !params.has_data) {
      pending.clear();
      return data_shape != reject_reason::none ? data_shape : reject_reason::missing_field;
    }
    info->kind = frame_kind::subscription;
    return reject_reason::none;
  }
  pending.clear();
  if (method == "heartbeat") {
    *info = frame_info{};
    for (auto& n : frame_rejects) n = 0;
    frame_ignored = false;
    info->kind = params.type == "test_request" ? frame_kind::test_request : frame_kind::heartbeat;
    return reject_reason::none;
  }
  return reject_reason::unknown_method;
}

reject_reason codec::impl::walk_params(od::value& v, params_state& p) {
  od::object obj;
  if (const error_code e = v.get_object().get(obj); e != simdjson::SUCCESS) return reject_of(e);
  bool data_deferred = false;
  for (auto fr : obj) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    const key_ref key{f};
    if (key.is("channel")) {
      const reject_reason r = read_string(f.value(), p.channel);
      if (r != reject_reason::none) return r;
      p.has_channel = true;
    } else if (key.is("data")) {
      p.has_data = true;
      if (!p.has_channel) {
        data_deferred = true;
        continue;
      }
      const reject_reason r = decode_data(p.channel, f.value());
      if (is_json_error(r)) return r;
    } else if (key.is("type")) {
      const reject_reason r = read_string(f.value(), p.type);
      if (is_json_error(r)) return r;
    }
  }
  if (data_deferred && p.has_channel) {
    // `data` came before `channel`: rewind the params object once and read it again.
    bool non_empty = false;
    if (obj.reset().get(non_empty) != simdjson::SUCCESS) return reject_reason::not_json;
    od::value data;
    if (obj.find_field_unordered("data").get(data) != simdjson::SUCCESS) {
      return reject_reason::not_json;
    }
    const reject_reason r = decode_data(p.channel, data);
    if (is_json_error(r)) return r;
    // The root walk skips whatever is left of params.
  }
  return reject_reason::none;
}

// Classifies the channel and decodes its data. Returns not_json only; data-level problems are
// recorded with reject_entry.
reject_reason codec::impl::decode_data(std::string_view channel, od::value& data) {
  auto starts = [&](std::string_view prefix) {
    return channel.size() > prefix.size() && channel.substr(0, prefix.size()) == prefix;
  };
  reject_reason r = reject_reason::none;
  if (starts("ticker.")) {
    info->channel = channel_kind::ticker;
    // ticker.{instrument}.{interval}: instrument names never contain '.'.
    const std::string_view rest = channel.substr(7);
    const std::size_t dot = rest.rfind('.');
    const std::string_view instrument = dot == std::string_view::npos ? rest : rest.substr(0, dot);
    r = decode_ticker(instrument, data);
  } else if (starts("markprice.options.")) {
    info->channel = channel_kind::markprice;
    r = decode_markprice(data);
  } else if (starts("deribit_price_index.")) {
    info->channel = channel_kind::price_index;
    r = decode_index(channel.substr(20), data, false);
  } else if (starts("deribit_volatility_index.")) {
    info->channel = channel_kind::volatility_index;
    r = decode_index(channel.substr(25), data, true);
  } else if (channel == "platform_state") {
    info->channel = channel_kind::platform_state;
    r = decode_platform_state(data);
  } else {
    info->channel = channel_kind::other;
    frame_ignored = true;
    return reject_reason::none;
  }
  if (is_json_error(r)) return r;
  if (r != reject_reason::none) reject_entry(r);
  return reject_reason::none;
}

reject_reason codec::impl::decode_ticker(std::string_view instrument, od::value& data) {
  core::instrument_id id;
  if (const reject_reason r = intern(instrument, id); r != reject_reason::none) return r;
  od::object obj;
  if (const error_code e = data.get_object().get(obj); e != simdjson::SUCCESS) return reject_of(e);
  switch (instruments.at(id).kind) {
    case core::instrument_kind::option:
      return decode_option_ticker(id, obj);
    case core::instrument_kind::perpetual:
      return decode_perpetual_ticker(id, obj);
    case core::instrument_kind::future:
    case core::instrument_kind::combo:
      // Not used by the engine yet (combos can quote negative prices and IVs): counted, ignored.
      frame_ignored = true;
      return reject_reason::none;
    default:
      return reject_reason::bad_instrument;
  }
}

reject_reason codec::impl::decode_option_ticker(core::instrument_id id, od::object& obj) {
  core::option_quote q;
  q.id = id;
  q.recv_ns = recv_ns;
  bool has_ts = false;
  bool has_mark = false;
  for (auto fr : obj) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    const key_ref key{f};
    od::value& v = f.value();
    // The switch only picks the destination; the number is read at one place below, so the
    // inlined simdjson number parser exists once in this loop (one copy per key was slower).
    double* number = nullptr;
    bool non_negative = true;
    // One switch on the first letter, then whole-key compares: no key is measured or copied.
    switch (key.first()) {
      case 'a':
        if (key.is("ask_iv")) {
          number = &q.venue_ask_iv;
          non_negative = false;
        }
        break;
      case 'b':
        if (key.is("best_bid_price")) {
          number = &q.bid_price;
        } else if (key.is("best_bid_amount")) {
          number = &q.bid_amount;
        } else if (key.is("best_ask_price")) {
          number = &q.ask_price;
        } else if (key.is("best_ask_amount")) {
          number = &q.ask_amount;
        } else if (key.is("bid_iv")) {
          number = &q.venue_bid_iv;
          non_negative = false;
        }
        break;
      case 'e':
        if (key.is("estimated_delivery_price")) {
          // A number while trading; the string "expired" once the option has settled.
          std::string_view s;
          if (v.get_string().get(s) == simdjson::SUCCESS && s == "expired") {
            q.flags |= core::quote_settled;
          }
        }
        break;
      case 'i':
        if (key.is("index_price")) {
          number = &q.index_price;
        } else if (key.is("interest_rate")) {
          number = &q.interest_rate;
          non_negative = false;
        }
        break;
      case 'm':
        if (key.is("mark_price")) {
          number = &q.mark_price;
          has_mark = true;
        } else if (key.is("mark_iv")) {
          number = &q.venue_mark_iv;
          non_negative = false;
        }
        break;
      case 'o':
        if (key.is("open_interest")) number = &q.open_interest;
        break;
      case 's':
        if (key.is("state")) {
          std::string_view state;
          const reject_reason r = read_string(v, state);
          if (r != reject_reason::none) return r;
          if (state != "open") q.flags |= core::quote_settled;
        }
        break;
      case 't':
        if (key.is("timestamp")) {
          const reject_reason r = read_timestamp(v, q.ts_ns);
          if (r != reject_reason::none) return r;
          has_ts = true;
        }
        break;
      case 'u':
        if (key.is("underlying_price")) {
          number = &q.underlying_price;
        } else if (key.is("underlying_index")) {
          std::string_view index;
          const reject_reason r = read_string(v, index);
          if (is_json_error(r)) return r;
          // null (or another type): no flag
          if (r == reject_reason::none) {
            if (index == "index_price") {
              q.flags |= core::quote_underlying_is_index;
            } else if (index.substr(0, 4) == "SYN.") {
              q.flags |= core::quote_underlying_synthetic;
            }
          }
        }
        break;
      default:
        break;
    }
    if (number != nullptr) {
      reject_reason r = read_number(v, *number);
      if (r == reject_reason::none && non_negative && *number < 0.0)
        r = reject_reason::negative_price;
      if (r != reject_reason::none) return r;
    }
  }
  if (!has_ts) return reject_reason::bad_timestamp;
  if (!has_mark) return reject_reason::missing_field;

  if (empty_side(q.bid_price, q.bid_amount)) {
    q.bid_price = core::missing;
    q.venue_bid_iv = core::missing;
  }
  if (empty_side(q.ask_price, q.ask_amount)) {
    q.ask_price = core::missing;
    q.venue_ask_iv = core::missing;
  }
  q.venue_bid_iv /= 100.0;  // Deribit ticker IVs are percent
  q.venue_ask_iv /= 100.0;
  q.venue_mark_iv /= 100.0;

  double& last = last_underlying[id];
  if (std::isfinite(q.underlying_price)) last = q.underlying_price;
  if (instruments.at(id).inverse) {
    // Coin-quoted: USD = coin price x the forward the venue priced against (ARCHITECTURE.md §4);
    // the latest known forward when this ticker did not carry one.
    const double forward = std::isfinite(q.underlying_price) ? q.underlying_price : last;
    q.bid_price *= forward;
    q.ask_price *= forward;
    q.mark_price *= forward;
    // Finite coin price x finite forward can still overflow (1e300 x 1e300): not a usable quote.
    if (std::isinf(q.bid_price) || std::isinf(q.ask_price) || std::isinf(q.mark_price)) {
      return reject_reason::non_finite;
    }
  }
  pending.emplace_back(q);
  return reject_reason::none;
}

reject_reason codec::impl::decode_perpetual_ticker(core::instrument_id id, od::object& obj) {
  core::funding_tick t;
  t.id = id;
  t.recv_ns = recv_ns;
  double bid_amount = core::missing;
  double ask_amount = core::missing;
  bool has_ts = false;
  bool has_mark = false;
  for (auto fr : obj) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    const key_ref key{f};
    od::value& v = f.value();
    reject_reason r = reject_reason::none;
    if (key.is("timestamp")) {
      r = read_timestamp(v, t.ts_ns);
      has_ts = true;
    } else if (key.is("mark_price")) {
      r = read_non_negative(v, t.mark_price);
      has_mark = true;
    } else if (key.is("index_price")) {
      r = read_non_negative(v, t.index_price);
    } else if (key.is("funding_8h")) {
      r = read_number(v, t.funding_8h);
    } else if (key.is("current_funding")) {
      r = read_number(v, t.current_funding);
    } else if (key.is("best_bid_price")) {
      r = read_non_negative(v, t.bid_price);
    } else if (key.is("best_bid_amount")) {
      r = read_non_negative(v, bid_amount);
    } else if (key.is("best_ask_price")) {
      r = read_non_negative(v, t.ask_price);
    } else if (key.is("best_ask_amount")) {
      r = read_non_negative(v, ask_amount);
    }
    if (r != reject_reason::none) return r;
  }
  if (!has_ts) return reject_reason::bad_timestamp;
  if (!has_mark) return reject_reason::missing_field;
  if (empty_side(t.bid_price, bid_amount)) t.bid_price = core::missing;
  if (empty_side(t.ask_price, ask_amount)) t.ask_price = core::missing;
  pending.emplace_back(t);
  return reject_reason::none;
}

reject_reason codec::impl::decode_markprice(od::value& data) {
  od::array arr;
  if (const error_code e = data.get_array().get(arr); e != simdjson::SUCCESS) return reject_of(e);
  for (auto er : arr) {
    od::value entry;
    if (std::move(er).get(entry) != simdjson::SUCCESS) return reject_reason::not_json;
    const reject_reason r = decode_markprice_entry(entry);
    if (is_json_error(r)) return r;
    if (r != reject_reason::none) reject_entry(r);  // one bad entry does not drop the chain
  }
  return reject_reason::none;
}

reject_reason codec::impl::decode_markprice_entry(od::value& entry) {
  od::object obj;
  if (const error_code e = entry.get_object().get(obj); e != simdjson::SUCCESS) return reject_of(e);
  core::option_quote q;
  q.recv_ns = recv_ns;
  q.flags = core::quote_mark_only;
  std::string_view name;
  bool has_name = false;
  bool has_ts = false;
  bool has_mark = false;
  for (auto fr : obj) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    const key_ref key{f};
    od::value& v = f.value();
    reject_reason r = reject_reason::none;
    if (key.is("timestamp")) {
      r = read_timestamp(v, q.ts_ns);
      has_ts = true;
    } else if (key.is("mark_price")) {
      r = read_non_negative(v, q.mark_price);
      has_mark = true;
    } else if (key.is("iv")) {
      r = read_number(v, q.venue_mark_iv);  // already a fraction on this channel
    } else if (key.is("instrument_name")) {
      r = read_string(v, name);
      has_name = true;
    }
    if (r != reject_reason::none) return r;
  }
  if (!has_name || !has_mark) return reject_reason::missing_field;
  if (!has_ts) return reject_reason::bad_timestamp;
  if (const reject_reason r = intern(name, q.id); r != reject_reason::none) return r;
  const core::instrument_info& ins = instruments.at(q.id);
  if (ins.kind != core::instrument_kind::option) return reject_reason::bad_instrument;
  if (ins.inverse) q.mark_price *= last_underlying[q.id];          // NaN until a ticker was seen
  if (std::isinf(q.mark_price)) return reject_reason::non_finite;  // the product overflowed
  pending.emplace_back(q);
  return reject_reason::none;
}

reject_reason codec::impl::decode_index(std::string_view index_name, od::value& data, bool dvol) {
  core::instrument_id id;
  if (const reject_reason r = intern(index_name, id); r != reject_reason::none) return r;
  if (instruments.at(id).kind != core::instrument_kind::index) return reject_reason::bad_instrument;
  od::object obj;
  if (const error_code e = data.get_object().get(obj); e != simdjson::SUCCESS) return reject_of(e);
  std::int64_t ts_ns = 0;
  double value = core::missing;
  bool has_ts = false;
  bool has_value = false;
  for (auto fr : obj) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    const key_ref key{f};
    reject_reason r = reject_reason::none;
    if (dvol ? key.is("volatility") : key.is("price")) {
      r = read_non_negative(f.value(), value);
      has_value = true;
    } else if (key.is("timestamp")) {
      r = read_timestamp(f.value(), ts_ns);
      has_ts = true;
    }
    if (r != reject_reason::none) return r;
  }
  if (!has_ts) return reject_reason::bad_timestamp;
  if (!has_value || std::isnan(value)) return reject_reason::missing_field;
  if (dvol) {
    core::dvol_tick t;
    t.ts_ns = ts_ns;
    t.recv_ns = recv_ns;
    t.id = id;
    t.vol = value / 100.0;  // DVOL is in percentage points
    pending.emplace_back(t);
  } else {
    core::index_tick t;
    t.ts_ns = ts_ns;
    t.recv_ns = recv_ns;
    t.id = id;
    t.price = value;
    pending.emplace_back(t);
  }
  return reject_reason::none;
}

reject_reason codec::impl::decode_platform_state(od::value& data) {
  od::object obj;
  if (const error_code e = data.get_object().get(obj); e != simdjson::SUCCESS) return reject_of(e);
  for (auto fr : obj) {
    if (fr.error() != simdjson::SUCCESS) return reject_reason::not_json;
    od::field& f = fr.value_unsafe();
    if (!key_ref{f}.is("maintenance")) continue;  // {price_index, locked}: not used by vrp
    bool maintenance = false;
    if (const error_code e = f.value().get_bool().get(maintenance); e != simdjson::SUCCESS)
      return reject_of(e);
    core::chain_event ev;
    ev.ts_ns = recv_ns;  // the message carries no timestamp
    ev.recv_ns = recv_ns;
    ev.id = core::no_instrument;
    ev.change =
        maintenance ? core::chain_change::maintenance_begin : core::chain_change::maintenance_end;
    info->maintenance = maintenance;
    pending.emplace_back(ev);
  }
  return reject_reason::none;
}

codec::codec(core::instrument_table& instruments) : impl_(std::make_unique<impl>(instruments)) {}
codec::~codec() = default;

frame_info codec::decode(std::string_view frame, std::int64_t recv_ns, core::event_sink& sink) {
  return impl_->decode(frame, recv_ns, sink);
}

const codec_stats& codec::stats() const {
  return impl_->stats;
}

}  // namespace vrp::feeds::deribit
