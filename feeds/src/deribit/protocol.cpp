#include "vrp/feeds/deribit/protocol.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

namespace vrp::feeds::deribit {

namespace {

using json = nlohmann::json;

// public/subscribe and public/unsubscribe spend 3 000 credits from a 30 000 pool refilled at
// 10 000 per second (protocols/README.md §1, rate limits): pace the chunks instead of earning
// 10028.
constexpr std::int64_t subscribe_cost_credits = 3'000;
constexpr std::int64_t subscribe_pool_credits = 30'000;
constexpr std::int64_t ns_per_credit = 100'000;  // 10 000 credits per second

// Error codes from protocols/deribit/error_codes.json.
constexpr std::int64_t code_too_many_requests = 10028;
constexpr std::int64_t code_system_maintenance = 11051;
constexpr std::int64_t code_raw_unauthorized = 13778;
constexpr std::int64_t code_entity_too_large = -32600;

// The retriable codes of error_codes.json other than rate limit and maintenance (handled apart).
bool is_retriable(std::int64_t code) {
  switch (code) {
    case 10040:  // retry
    case 10041:  // settlement_in_progress
    case 10047:  // matching_engine_queue_full
    case 10066:  // too_many_concurrent_requests
    case 11094:  // internal_server_error
    case 13028:  // temporarily_unavailable
    case 13888:  // timed_out
      return true;
    default:
      return false;
  }
}

constexpr int max_chunk_attempts = 3;
constexpr std::string_view fallback_interval = "100ms";

enum class request_kind : std::uint8_t {
  set_heartbeat,
  get_instruments,
  subscribe,
  unsubscribe,
  test
};

struct pending_request {
  request_kind kind = request_kind::test;
  std::int64_t sent_ns = 0;
  std::size_t group = 0;  // get_instruments: currency index * 2 + (0 option, 1 future)
  int attempts = 1;
  std::vector<std::string> channels;
};

struct known_instrument {
  std::string name;
  core::instrument_kind kind = core::instrument_kind::unknown;
  std::size_t group = 0;
  bool active = true;
  bool settled = false;  // the ticker said so: never revived by a stale listing
};

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", u);
      out.append(esc);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void append_int(std::string& out, std::int64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  (void)ec;  // 24 chars always hold an int64
  out.append(digits, end);
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
}

const std::string* string_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

// Listed expiries beyond 2200-01-01 are not believed (perpetuals send year 3000 and keep 0).
constexpr double max_expiry_ms = 7'258'118'400'000.0;

bool number_field(const json& obj, const char* key, double& out) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return false;
  out = it->get<double>();
  return true;
}

void merge(frame_verdict& into, const frame_verdict& v) {
  into.data = into.data || v.data;
  if (static_cast<int>(v.action) > static_cast<int>(into.action)) {
    into.action = v.action;
    into.delay = v.delay;
  } else if (v.action == into.action) {
    into.delay = std::max(into.delay, v.delay);
  }
}

core::chain_event chain(std::int64_t now_ns, core::instrument_id id, core::chain_change change) {
  core::chain_event e;
  e.ts_ns = now_ns;
  e.recv_ns = now_ns;
  e.id = id;
  e.change = change;
  return e;
}

}  // namespace

std::string_view protocol_state_name(protocol_state s) {
  switch (s) {
    case protocol_state::disconnected:
      return "disconnected";
    case protocol_state::discovering:
      return "discovering";
    case protocol_state::subscribing:
      return "subscribing";
    case protocol_state::live:
      return "live";
    case protocol_state::maintenance:
      return "maintenance";
  }
  return "unknown";
}

struct protocol::impl {
  // Sits between the codec and the caller's sink to notice settled instruments and the codec's
  // own maintenance events (platform_state); it only records them, the protocol acts after
  // decode returns.
  struct tap final : core::event_sink {
    impl* owner = nullptr;
    void push(const core::event& e) override {
      owner->sink_.push(e);
      if (const auto* q = std::get_if<core::option_quote>(&e);
          q != nullptr && (q->flags & core::quote_settled) != 0) {
        owner->settled_.push_back(q->id);
      } else if (const auto* c = std::get_if<core::chain_event>(&e); c != nullptr) {
        if (c->change == core::chain_change::maintenance_begin) {
          owner->maintenance_announced_ = true;
          owner->codec_announced_ = true;
        } else if (c->change == core::chain_change::maintenance_end) {
          owner->maintenance_announced_ = false;
        }
      }
    }
  };

  impl(protocol_config config, codec& c, core::instrument_table& instruments,
       core::event_sink& sink)
      : config_(std::move(config)), codec_(c), instruments_(instruments), sink_(sink) {
    tap_.owner = this;
    interval_ = config_.ticker_interval;
    chunk_size_ = std::max<std::size_t>(1, config_.max_channels_per_request);
    rate_delay_ = config_.rate_limit_delay;
    settled_.reserve(64);
  }

  protocol_config config_;
  codec& codec_;
  core::instrument_table& instruments_;
  core::event_sink& sink_;
  tap tap_;
  protocol_stats stats_;
  protocol_state state_ = protocol_state::disconnected;

  // Kept across connections.
  std::string interval_;
  std::size_t chunk_size_ = 250;
  std::unordered_map<core::instrument_id, known_instrument> known_;
  std::set<std::string> wanted_;
  bool discovered_ = false;
  std::int64_t last_discovery_ns_ = 0;
  std::chrono::milliseconds rate_delay_{0};
  bool maintenance_announced_ = false;  // maintenance_begin went out, maintenance_end did not
  bool codec_announced_ = false;        // the codec pushed maintenance_begin for this frame
  std::vector<core::instrument_id> settled_;
  std::string buf_;

  // Per connection.
  bool open_ = false;
  bool closing_ = false;  // a reconnect verdict went out: send nothing more on this connection
  frame_verdict closing_verdict_;  // repeated by on_timer until the session closes
  std::int64_t next_id_ = 1;
  std::unordered_map<std::int64_t, pending_request> pending_;
  std::deque<pending_request> queue_;  // subscribe/unsubscribe chunks waiting for credits
  std::unordered_set<std::string> live_;
  std::unordered_set<std::string> requested_;  // queued or in flight
  std::unordered_set<std::string> failed_;     // refused on this connection: not asked again
  std::vector<std::string> missing_;
  std::int64_t credits_ = subscribe_pool_credits;
  std::int64_t credits_ns_ = 0;

  // Discovery round (one at a time).
  bool round_active_ = false;
  std::size_t round_pending_ = 0;
  std::vector<bool> round_ok_;
  std::unordered_set<core::instrument_id> round_seen_;

  // ---- sending ----------------------------------------------------------------------------

  // `p` is moved into the pending table only after `write_params` ran (it may read `p`).
  template <class WriteParams>
  void send(std::string_view method, pending_request&& p, std::int64_t now_ns, outbox& out,
            WriteParams&& write_params) {
    std::int64_t id = next_id_++;
    buf_.clear();
    buf_.append(R"({"jsonrpc":"2.0","id":)");
    append_int(buf_, id);
    buf_.append(R"(,"method":)");
    append_json_string(buf_, method);
    buf_.append(R"(,"params":)");
    write_params(buf_);
    buf_.push_back('}');
    p.sent_ns = now_ns;
    pending_.insert_or_assign(id, std::move(p));
    ++stats_.requests_sent;
    // A failed send is left to the request timeout: the session is closing anyway.
    (void)out.send(buf_);
  }

  void send_set_heartbeat(std::int64_t now_ns, outbox& out) {
    pending_request p;
    p.kind = request_kind::set_heartbeat;
    // Deribit refuses intervals below 10 s (an error the protocol reports); shorter ones are for
    // the replay exchange in tests. Below 1 s is never meaningful.
    int interval_s = std::max(1, config_.heartbeat_interval_s);
    send("public/set_heartbeat", std::move(p), now_ns, out, [&](std::string& b) {
      b.append(R"({"interval":)");
      append_int(b, interval_s);
      b.push_back('}');
    });
  }

  void send_test(std::int64_t now_ns, outbox& out) {
    pending_request p;
    p.kind = request_kind::test;
    send("public/test", std::move(p), now_ns, out, [](std::string& b) { b.append("{}"); });
  }

  void send_get_instruments(std::size_t group, std::int64_t now_ns, outbox& out) {
    pending_request p;
    p.kind = request_kind::get_instruments;
    p.group = group;
    const std::string& currency = config_.currencies[group / 2];
    std::string_view kind = group % 2 == 0 ? "option" : "future";
    send("public/get_instruments", std::move(p), now_ns, out, [&](std::string& b) {
      b.append(R"({"currency":)");
      append_json_string(b, currency);
      b.append(R"(,"kind":)");
      append_json_string(b, kind);
      b.append(R"(,"expired":false})");
    });
  }

  void send_channels(pending_request p, std::int64_t now_ns, outbox& out) {
    bool subscribe = p.kind == request_kind::subscribe;
    if (subscribe) {
      ++stats_.subscribe_requests;
      stats_.channels_requested += p.channels.size();
    } else {
      ++stats_.unsubscribe_requests;
    }
    const std::vector<std::string>& channels = p.channels;
    send(subscribe ? "public/subscribe" : "public/unsubscribe", std::move(p), now_ns, out,
         [&](std::string& b) {
           b.append(R"({"channels":[)");
           for (std::size_t i = 0; i < channels.size(); ++i) {
             if (i != 0) b.push_back(',');
             append_json_string(b, channels[i]);
           }
           b.append("]}");
         });
  }

  void enqueue_chunks(request_kind kind, std::vector<std::string> channels, std::size_t chunk,
                      int attempts) {
    chunk = std::max<std::size_t>(1, chunk);
    for (std::size_t i = 0; i < channels.size(); i += chunk) {
      pending_request p;
      p.kind = kind;
      p.attempts = attempts;
      std::size_t end = std::min(channels.size(), i + chunk);
      p.channels.assign(
          std::make_move_iterator(channels.begin() + static_cast<std::ptrdiff_t>(i)),
          std::make_move_iterator(channels.begin() + static_cast<std::ptrdiff_t>(end)));
      queue_.push_back(std::move(p));
    }
  }

  void refill(std::int64_t now_ns) {
    if (now_ns < credits_ns_) {
      credits_ns_ = now_ns;
      return;
    }
    std::int64_t gained = (now_ns - credits_ns_) / ns_per_credit;
    credits_ = std::min(subscribe_pool_credits, credits_ + gained);
    // Keep the remainder so frequent calls still accumulate credit.
    credits_ns_ =
        credits_ == subscribe_pool_credits ? now_ns : credits_ns_ + gained * ns_per_credit;
  }

  void flush(std::int64_t now_ns, outbox& out) {
    if (!open_ || closing_) return;
    refill(now_ns);
    while (!queue_.empty() && credits_ >= subscribe_cost_credits) {
      credits_ -= subscribe_cost_credits;
      pending_request p = std::move(queue_.front());
      queue_.pop_front();
      send_channels(std::move(p), now_ns, out);
    }
    check_live(now_ns);
  }

  // ---- channel bookkeeping ----------------------------------------------------------------

  void rebuild_wanted() {
    wanted_.clear();
    for (const auto& [id, k] : known_) {
      if (!k.active) continue;
      bool want = (k.kind == core::instrument_kind::option && config_.subscribe_options) ||
                  (k.kind == core::instrument_kind::perpetual && config_.subscribe_perpetual);
      if (want) wanted_.insert("ticker." + k.name + "." + interval_);
    }
    for (const auto& currency : config_.currencies) {
      std::string index = lower(currency) + "_usd";
      if (config_.subscribe_price_index) wanted_.insert("deribit_price_index." + index);
      if (config_.subscribe_dvol) wanted_.insert("deribit_volatility_index." + index);
      if (config_.subscribe_markprice) wanted_.insert("markprice.options." + index);
    }
    if (config_.subscribe_platform_state) wanted_.insert("platform_state");
  }

  // Brings the connection's subscriptions to the wanted set: unsubscribes what is no longer
  // wanted, subscribes what is neither live, in flight nor refused.
  void reconcile(std::int64_t now_ns, outbox& out) {
    if (!open_ || closing_) return;
    std::vector<std::string> drop;
    for (auto it = live_.begin(); it != live_.end();) {
      if (wanted_.count(*it) == 0) {
        drop.push_back(*it);
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
    std::sort(drop.begin(), drop.end());
    enqueue_chunks(request_kind::unsubscribe, std::move(drop), chunk_size_, 1);

    std::vector<std::string> add;
    for (const auto& ch : wanted_) {
      if (live_.count(ch) != 0 || requested_.count(ch) != 0 || failed_.count(ch) != 0) continue;
      requested_.insert(ch);
      add.push_back(ch);
    }
    enqueue_chunks(request_kind::subscribe, std::move(add), chunk_size_, 1);
    flush(now_ns, out);
  }

  bool subscribes_outstanding() const {
    for (const auto& [id, p] : pending_) {
      if (p.kind == request_kind::subscribe) return true;
    }
    for (const auto& p : queue_) {
      if (p.kind == request_kind::subscribe) return true;
    }
    return false;
  }

  void check_live(std::int64_t now_ns) {
    if (state_ != protocol_state::subscribing || subscribes_outstanding()) return;
    state_ = protocol_state::live;
    if (maintenance_announced_) {
      maintenance_announced_ = false;
      sink_.push(chain(now_ns, core::no_instrument, core::chain_change::maintenance_end));
    }
    rate_delay_ = config_.rate_limit_delay;
    sink_.push(chain(now_ns, core::no_instrument, core::chain_change::feed_up));
  }

  void report_missing(const std::string& ch) {
    ++stats_.channels_missing;
    failed_.insert(ch);
    missing_.push_back(ch);
  }

  // ---- discovery --------------------------------------------------------------------------

  void start_discovery(std::int64_t now_ns, outbox& out) {
    round_active_ = true;
    round_pending_ = 0;
    round_ok_.assign(config_.currencies.size() * 2, false);
    round_seen_.clear();
    for (std::size_t g = 0; g < round_ok_.size(); ++g) {
      send_get_instruments(g, now_ns, out);
      ++round_pending_;
    }
    if (round_pending_ == 0) finish_round(now_ns, out);
  }

  void expire(core::instrument_id id, known_instrument& k, std::int64_t now_ns) {
    k.active = false;
    ++stats_.instruments_expired;
    sink_.push(chain(now_ns, id, core::chain_change::expired));
  }

  void finish_round(std::int64_t now_ns, outbox& out) {
    round_active_ = false;
    discovered_ = true;
    last_discovery_ns_ = now_ns;
    // Only a group whose answer arrived can say an instrument vanished.
    for (auto& [id, k] : known_) {
      if (k.active && k.group < round_ok_.size() && round_ok_[k.group] &&
          round_seen_.count(id) == 0) {
        expire(id, k, now_ns);
      }
    }
    round_seen_.clear();
    rebuild_wanted();
    if (state_ == protocol_state::discovering) state_ = protocol_state::subscribing;
    reconcile(now_ns, out);
  }

  void intern(const json& entry, std::size_t group, std::int64_t now_ns) {
    if (!entry.is_object()) {
      ++stats_.instruments_rejected;
      return;
    }
    const std::string* name = string_field(entry, "instrument_name");
    if (name == nullptr) {
      ++stats_.instruments_rejected;
      return;
    }
    if (auto it = entry.find("is_active");
        it != entry.end() && it->is_boolean() && !it->get<bool>()) {
      return;
    }
    core::instrument_info info;
    if (!parse_instrument_name(*name, info)) {
      info = core::instrument_info{};
      if (!core::copy_name(info.name, *name)) {
        ++stats_.instruments_rejected;
        return;
      }
    }
    info.where = core::venue::deribit;
    if (const std::string* kind = string_field(entry, "kind")) {
      const std::string* period = string_field(entry, "settlement_period");
      if (*kind == "option") {
        info.kind = core::instrument_kind::option;
      } else if (*kind == "future") {
        info.kind = period != nullptr && *period == "perpetual" ? core::instrument_kind::perpetual
                                                                : core::instrument_kind::future;
      } else if (*kind == "future_combo" || *kind == "option_combo") {
        info.kind = core::instrument_kind::combo;
      }
    }
    if (info.kind == core::instrument_kind::unknown) {
      ++stats_.instruments_rejected;
      return;
    }
    double strike = 0.0;
    if (info.kind == core::instrument_kind::option && number_field(entry, "strike", strike)) {
      info.strike = strike;
    }
    if (const std::string* type = string_field(entry, "option_type")) {
      if (*type == "call") info.right = core::option_right::call;
      if (*type == "put") info.right = core::option_right::put;
    }
    double expiry_ms = 0.0;
    if (info.kind == core::instrument_kind::perpetual) {
      info.expiry_ms = 0;  // the venue sends year 3000
    } else if (number_field(entry, "expiration_timestamp", expiry_ms) && expiry_ms > 0.0 &&
               expiry_ms <= max_expiry_ms) {
      // Range-checked first: converting a double beyond int64 is undefined behaviour.
      info.expiry_ms = static_cast<std::int64_t>(expiry_ms);
    }
    const std::string* base = string_field(entry, "base_currency");
    if (base != nullptr) core::copy_name(info.underlying, *base);
    const std::string* counter = string_field(entry, "counter_currency");
    const std::string* quote = string_field(entry, "quote_currency");
    const std::string* settlement = string_field(entry, "settlement_currency");
    // instrument_info::quote is the currency the engine prices in (USD for inverse contracts):
    // counter_currency where present; older listings quote inverse options in the coin itself.
    if (counter != nullptr) {
      core::copy_name(info.quote, *counter);
    } else if (quote != nullptr && (base == nullptr || *quote != *base)) {
      core::copy_name(info.quote, *quote);
    }
    if (const std::string* type = string_field(entry, "instrument_type")) {
      if (*type == "reversed") info.inverse = true;
      if (*type == "linear") info.inverse = false;
    } else if (settlement != nullptr && base != nullptr) {
      info.inverse = *settlement == *base;
    } else if (info.kind == core::instrument_kind::option && quote != nullptr && base != nullptr) {
      info.inverse = *quote == *base;
    }

    core::instrument_id id = instruments_.add(info);
    if (id == core::no_instrument) {
      ++stats_.instruments_rejected;
      return;
    }
    round_seen_.insert(id);
    auto [it, inserted] = known_.try_emplace(id);
    known_instrument& k = it->second;
    k.group = group;
    if (inserted) {
      k.name = *name;
      k.kind = info.kind;
    } else if (k.active || k.settled) {
      return;
    }
    // First sight, or back after it vanished from a listing.
    k.active = true;
    ++stats_.instruments_listed;
    sink_.push(chain(now_ns, id, core::chain_change::listed));
  }

  // ---- responses --------------------------------------------------------------------------

  void finish_group(std::size_t group, bool ok, std::int64_t now_ns, outbox& out) {
    if (!round_active_) return;
    if (ok && group < round_ok_.size()) round_ok_[group] = true;
    if (round_pending_ > 0) --round_pending_;
    if (round_pending_ == 0) finish_round(now_ns, out);
  }

  void on_subscribe_result(pending_request& p, const json* result, std::int64_t now_ns,
                           outbox& out) {
    std::unordered_set<std::string_view> got;
    if (result != nullptr && result->is_array()) {
      got.reserve(result->size());
      for (const auto& ch : *result) {
        if (ch.is_string()) got.insert(ch.get_ref<const std::string&>());
      }
    } else {
      ++stats_.malformed_frames;
    }
    for (auto& ch : p.channels) {
      requested_.erase(ch);
      if (got.count(ch) != 0) {
        ++stats_.channels_confirmed;
        live_.insert(std::move(ch));
      } else {
        report_missing(ch);
      }
    }
    reconcile(now_ns, out);
  }

  void on_subscribe_error(pending_request& p, std::int64_t code, std::int64_t now_ns, outbox& out) {
    if (code == code_entity_too_large && p.channels.size() > 1) {
      ++stats_.chunks_split;
      std::size_t half = (p.channels.size() + 1) / 2;
      chunk_size_ = std::min(chunk_size_, half);
      // Still in requested_: they are queued again.
      enqueue_chunks(request_kind::subscribe, std::move(p.channels), half, p.attempts);
    } else if (code == code_raw_unauthorized &&
               (interval_ != fallback_interval ||
                std::any_of(p.channels.begin(), p.channels.end(),
                            [&](const std::string& ch) { return wanted_.count(ch) == 0; }))) {
      // Refused for the interval: every channel of the chunk is asked again by reconcile, with
      // tickers at the fallback interval (index channels keep their names).
      for (const auto& ch : p.channels) requested_.erase(ch);
      if (interval_ != fallback_interval) {
        ++stats_.interval_fallbacks;
        interval_ = std::string(fallback_interval);
        rebuild_wanted();
        // Queued chunks may still carry the old interval.
        for (auto& q : queue_) {
          if (q.kind != request_kind::subscribe) continue;
          auto keep =
              std::remove_if(q.channels.begin(), q.channels.end(), [&](const std::string& ch) {
                if (wanted_.count(ch) != 0) return false;
                requested_.erase(ch);
                return true;
              });
          q.channels.erase(keep, q.channels.end());
        }
        queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                    [](const pending_request& q) { return q.channels.empty(); }),
                     queue_.end());
      }
    } else if (is_retriable(code) && p.attempts < max_chunk_attempts) {
      std::size_t n = p.channels.size();
      enqueue_chunks(request_kind::subscribe, std::move(p.channels), n, p.attempts + 1);
    } else if (code != code_too_many_requests && code != code_system_maintenance) {
      for (const auto& ch : p.channels) {
        requested_.erase(ch);
        report_missing(ch);
      }
    } else {
      // The session is about to drop; the next connection asks again.
      for (const auto& ch : p.channels) requested_.erase(ch);
    }
    reconcile(now_ns, out);
  }

  void on_response(std::int64_t rpc_id, std::string_view text, std::int64_t now_ns, outbox& out) {
    auto it = pending_.find(rpc_id);
    if (it == pending_.end()) {
      ++stats_.unmatched_responses;
      return;
    }
    pending_request p = std::move(it->second);
    pending_.erase(it);
    json doc = json::parse(text.begin(), text.end(), nullptr, false);
    const json* result = nullptr;
    if (doc.is_object()) {
      if (auto r = doc.find("result"); r != doc.end()) result = &*r;
    }
    switch (p.kind) {
      case request_kind::get_instruments: {
        bool ok = result != nullptr && result->is_array();
        if (ok) {
          for (const auto& entry : *result) intern(entry, p.group, now_ns);
        } else {
          ++stats_.malformed_frames;
        }
        finish_group(p.group, ok, now_ns, out);
        break;
      }
      case request_kind::subscribe:
        on_subscribe_result(p, result, now_ns, out);
        break;
      case request_kind::unsubscribe:
      case request_kind::set_heartbeat:
      case request_kind::test:
        break;
    }
  }

  frame_verdict enter_maintenance(std::int64_t now_ns) {
    if (state_ != protocol_state::maintenance) {
      state_ = protocol_state::maintenance;
      ++stats_.maintenance;
      if (!codec_announced_) {
        maintenance_announced_ = true;
        sink_.push(chain(now_ns, core::no_instrument, core::chain_change::maintenance_begin));
      }
    }
    frame_verdict v;
    v.action = session_action::reconnect_after_delay;
    v.delay = config_.maintenance_delay;
    begin_closing(v);
    return v;
  }

  frame_verdict on_error(const frame_info& info, std::int64_t now_ns, outbox& out) {
    frame_verdict v;
    ++stats_.error_responses;
    stats_.last_error_code = info.error_code;
    std::int64_t code = info.error_code;
    if (code == code_too_many_requests) {
      ++stats_.rate_limited;
      v.action = session_action::reconnect_after_delay;
      v.delay = rate_delay_;
      begin_closing(v);
      rate_delay_ = std::min(rate_delay_ * 2, config_.max_rate_limit_delay);
    } else if (code == code_system_maintenance) {
      v = enter_maintenance(now_ns);
    }

    auto it = info.rpc_id >= 0 ? pending_.find(info.rpc_id) : pending_.end();
    if (it == pending_.end() && code == code_entity_too_large) {
      // Deribit cannot tie this one to a request (no id): blame the largest pending subscribe.
      std::size_t most = 0;
      for (auto p = pending_.begin(); p != pending_.end(); ++p) {
        if (p->second.kind != request_kind::subscribe) continue;
        std::size_t n = p->second.channels.size();
        if (n > most || (n == most && it != pending_.end() && p->first < it->first)) {
          most = n;
          it = p;
        }
      }
    }
    if (it == pending_.end()) {
      if (info.rpc_id >= 0) ++stats_.unmatched_responses;
      return v;
    }
    pending_request p = std::move(it->second);
    pending_.erase(it);
    switch (p.kind) {
      case request_kind::get_instruments:
        finish_group(p.group, false, now_ns, out);
        break;
      case request_kind::subscribe:
        on_subscribe_error(p, code, now_ns, out);
        break;
      case request_kind::unsubscribe:
      case request_kind::set_heartbeat:
      case request_kind::test:
        break;
    }
    return v;
  }

  void on_settled(std::int64_t now_ns, outbox& out) {
    bool changed = false;
    for (core::instrument_id id : settled_) {
      auto it = known_.find(id);
      if (it == known_.end() || it->second.settled) continue;
      it->second.settled = true;
      if (it->second.active) {
        expire(id, it->second, now_ns);
        changed = true;
      }
    }
    settled_.clear();
    if (changed) {
      rebuild_wanted();
      reconcile(now_ns, out);
    }
  }

  // ---- entry points -----------------------------------------------------------------------

  void on_open(std::int64_t now_ns, outbox& out) {
    reset_connection();
    open_ = true;
    credits_ = subscribe_pool_credits;
    credits_ns_ = now_ns;
    missing_.clear();
    send_set_heartbeat(now_ns, out);
    bool recent =
        discovered_ &&
        now_ns - last_discovery_ns_ <
            std::chrono::duration_cast<std::chrono::nanoseconds>(config_.rediscover_every).count();
    if (recent) {
      // Subscriptions die with the connection: ask for every wanted channel again.
      state_ = protocol_state::subscribing;
      reconcile(now_ns, out);
    } else {
      state_ = protocol_state::discovering;
      start_discovery(now_ns, out);
    }
  }

  frame_verdict on_frame(std::string_view text, std::int64_t recv_ns, outbox& out) {
    codec_announced_ = false;
    frame_info info = codec_.decode(text, recv_ns, tap_);
    frame_verdict v;
    switch (info.kind) {
      case frame_kind::subscription:
        v.data = info.channel != channel_kind::platform_state;
        if (info.maintenance) merge(v, enter_maintenance(recv_ns));
        break;
      case frame_kind::heartbeat:
        ++stats_.heartbeats;
        break;
      case frame_kind::test_request:
        send_test(recv_ns, out);
        ++stats_.test_requests_answered;
        break;
      case frame_kind::response:
        on_response(info.rpc_id, text, recv_ns, out);
        break;
      case frame_kind::error_response:
        merge(v, on_error(info, recv_ns, out));
        break;
      case frame_kind::malformed:
        ++stats_.malformed_frames;
        break;
    }
    if (!settled_.empty()) on_settled(recv_ns, out);
    if (!queue_.empty()) flush(recv_ns, out);
    return v;
  }

  frame_verdict on_timer(std::int64_t now_ns, outbox& out) {
    frame_verdict v;
    if (!open_) return v;
    if (closing_) return closing_verdict_;
    std::int64_t timeout_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(config_.request_timeout).count();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now_ns - it->second.sent_ns >= timeout_ns) {
        ++stats_.request_timeouts;
        v.action = session_action::reconnect;
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    if (v.action != session_action::none) {
      begin_closing(v);
      return v;
    }
    flush(now_ns, out);
    std::int64_t every_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(config_.rediscover_every).count();
    bool settled_state = state_ == protocol_state::live || state_ == protocol_state::subscribing;
    if (settled_state && discovered_ && !round_active_ && now_ns - last_discovery_ns_ >= every_ns) {
      start_discovery(now_ns, out);
    }
    return v;
  }

  void on_close(std::int64_t now_ns) {
    if (open_) sink_.push(chain(now_ns, core::no_instrument, core::chain_change::feed_down));
    reset_connection();
    state_ = protocol_state::disconnected;
  }

  void begin_closing(const frame_verdict& v) {
    closing_ = true;
    closing_verdict_.data = false;
    merge(closing_verdict_, v);
  }

  void reset_connection() {
    open_ = false;
    closing_ = false;
    closing_verdict_ = frame_verdict{};
    next_id_ = 1;
    pending_.clear();
    queue_.clear();
    live_.clear();
    requested_.clear();
    failed_.clear();
    round_active_ = false;
    round_pending_ = 0;
    round_seen_.clear();
    settled_.clear();
  }
};

protocol::protocol(protocol_config config, codec& c, core::instrument_table& instruments,
                   core::event_sink& sink)
    : impl_(std::make_unique<impl>(std::move(config), c, instruments, sink)) {}

protocol::~protocol() = default;

void protocol::on_open(std::int64_t now_ns, outbox& out) {
  impl_->on_open(now_ns, out);
}

frame_verdict protocol::on_frame(std::string_view text, std::int64_t recv_ns, outbox& out) {
  return impl_->on_frame(text, recv_ns, out);
}

frame_verdict protocol::on_timer(std::int64_t now_ns, outbox& out) {
  return impl_->on_timer(now_ns, out);
}

void protocol::on_close(std::int64_t now_ns) {
  impl_->on_close(now_ns);
}

protocol_state protocol::state() const {
  return impl_->state_;
}

const protocol_stats& protocol::stats() const {
  return impl_->stats_;
}

std::size_t protocol::live_channels() const {
  return impl_->live_.size();
}

std::size_t protocol::wanted_channels() const {
  return impl_->wanted_.size();
}

const std::vector<std::string>& protocol::missing_channels() const {
  return impl_->missing_;
}

}  // namespace vrp::feeds::deribit
