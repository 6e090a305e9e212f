#include "vrp/feeds/replay/deribit_api.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "replay/split.hpp"

namespace vrp::feeds::replay {
namespace {

using json = nlohmann::json;

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool all_chars(std::string_view s, bool (*ok)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}

bool is_upper_or_digit(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Deribit instrument names: upper-case currency pairs and codes joined by '-', with 'd' as the
// decimal point of linear strikes (BTC-24SEP21-8000-P, MATIC_USDC-9MAR24-1d02-C, BTC_USDC).
bool is_instrument_name(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
  for (auto part : split(s, '-')) {
    if (part.empty()) return false;
    for (char c : part) {
      if (!(is_upper_or_digit(c) || c == '_' || c == 'd')) return false;
    }
  }
  return true;
}

// Index names: btc_usd, eth_usdc, ...
bool is_index_name(std::string_view s) {
  if (s.size() < 3 || s.size() > 32 || s.find('_') == std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_interval(std::string_view s) {
  return one_of(s, {"100ms", "agg2", "raw"});
}
bool is_kind(std::string_view s) {
  return one_of(s, {"future", "option", "spot", "future_combo", "option_combo", "combo", "any"});
}
bool is_currency_or_any(std::string_view s) {
  return s == "any" || all_chars(s, is_upper_or_digit);
}
bool is_resolution(std::string_view s) {
  return one_of(s, {"1", "3", "5", "10", "15", "30", "60", "120", "180", "360", "720", "1D"});
}

std::string error_data(std::string_view reason, std::string_view param) {
  json d = {{"reason", reason}, {"param", param}};
  return d.dump();
}

// A request param as text: a string's content, or an integer's digits.
std::optional<std::string> param_text(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return std::string{};  // present but of the wrong type: empty never validates
}

void append_array(std::string& out, const std::vector<double>& v, std::size_t from,
                  std::size_t to) {
  out += '[';
  std::array<char, 64> buf{};
  for (std::size_t i = from; i < to; ++i) {
    if (i != from) out += ',';
    auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v[i]);
    out.append(buf.data(), r.ptr);
  }
  out += ']';
}

}  // namespace

bool is_valid_channel(std::string_view ch) {
  const auto p = split(ch, '.');
  const auto& head = p[0];
  const auto n = p.size();
  if (head == "platform_state") {
    return n == 1 || (n == 2 && p[1] == "public_methods_state");
  }
  if (head == "ticker" || head == "perpetual") {
    return n == 3 && is_instrument_name(p[1]) && is_interval(p[2]);
  }
  if (head == "book") {
    if (n == 3) return is_instrument_name(p[1]) && is_interval(p[2]);
    // Grouped books: book.{instrument}.{group}.{depth}.{interval}.
    return n == 5 && is_instrument_name(p[1]) && (p[2] == "none" || all_chars(p[2], is_digit)) &&
           one_of(p[3], {"1", "10", "20"}) && one_of(p[4], {"100ms", "agg2"});
  }
  if (head == "trades") {
    if (n == 3) return is_instrument_name(p[1]) && is_interval(p[2]);
    return n == 4 && is_kind(p[1]) && is_currency_or_any(p[2]) && is_interval(p[3]);
  }
  if (head == "quote" || head == "incremental_ticker") {
    return n == 2 && is_instrument_name(p[1]);
  }
  if (head == "chart") {
    return n == 4 && p[1] == "trades" && is_instrument_name(p[2]) && is_resolution(p[3]);
  }
  if (head == "markprice") {
    return n == 3 && p[1] == "options" && is_index_name(p[2]);
  }
  if (one_of(head, {"deribit_price_index", "deribit_price_ranking", "deribit_price_statistics",
                    "deribit_volatility_index", "estimated_expiration_price"})) {
    return n == 2 && is_index_name(p[1]);
  }
  if (head == "instrument") {
    return n == 4 && p[1] == "state" && is_kind(p[2]) && is_currency_or_any(p[3]);
  }
  return false;
}

std::string rpc_result_frame(std::string_view id_json, std::string_view result_json,
                             std::int64_t us_in, std::int64_t us_out) {
  std::string out;
  out.reserve(result_json.size() + 128);
  out += "{\"jsonrpc\":\"2.0\"";
  if (!id_json.empty()) {
    out += ",\"id\":";
    out += id_json;
  }
  out += ",\"result\":";
  out += result_json;
  out += ",\"usIn\":" + std::to_string(us_in) + ",\"usOut\":" + std::to_string(us_out) +
         ",\"usDiff\":" + std::to_string(us_out - us_in) + ",\"testnet\":false}";
  return out;
}

std::string rpc_error_frame(std::string_view id_json, int code, std::string_view message,
                            std::string_view data_json, std::int64_t us_in, std::int64_t us_out) {
  std::string out = "{\"jsonrpc\":\"2.0\"";
  if (!id_json.empty()) {
    out += ",\"id\":";
    out += id_json;
  }
  out += ",\"error\":{\"code\":" + std::to_string(code) + ",\"message\":" + json(message).dump();
  if (!data_json.empty()) {
    out += ",\"data\":";
    out += data_json;
  }
  out += "},\"usIn\":" + std::to_string(us_in) + ",\"usOut\":" + std::to_string(us_out) +
         ",\"usDiff\":" + std::to_string(us_out - us_in) + ",\"testnet\":false}";
  return out;
}

std::string instruments_result(const recording& rec, std::string_view currency,
                               std::string_view kind) {
  const bool any_currency = currency.empty() || currency == "any";
  std::string out = "[";
  bool first = true;
  for (const auto& c : rec.rpcs) {
    if (c.method != "public/get_instruments" || !c.result_is_array) continue;
    bool match = true;
    for (const auto& [key, value] : c.params) {
      if (key == "currency" && !any_currency && value != currency) match = false;
      if (key == "kind" && !kind.empty() && value != kind) match = false;
    }
    if (!match) continue;
    for (const auto& item : c.result_items) {
      if (!first) out += ',';
      out += item;
      first = false;
    }
  }
  out += ']';
  return out;
}

std::string chart_result(const recording& rec, std::string_view instrument,
                         std::string_view resolution, std::int64_t start_ms, std::int64_t end_ms) {
  const chart_series* s = nullptr;
  for (const auto& c : rec.charts) {
    if (c.instrument_name == instrument && c.resolution == resolution) {
      s = &c;
      break;
    }
  }
  std::size_t from = 0;
  std::size_t to = 0;
  if (s != nullptr && start_ms <= end_ms) {
    from = static_cast<std::size_t>(
        std::lower_bound(s->ticks_ms.begin(), s->ticks_ms.end(), start_ms) - s->ticks_ms.begin());
    to = static_cast<std::size_t>(std::upper_bound(s->ticks_ms.begin(), s->ticks_ms.end(), end_ms) -
                                  s->ticks_ms.begin());
  }
  std::string out = "{\"status\":";
  out += from < to ? "\"ok\"" : "\"no_data\"";
  out += ",\"ticks\":[";
  for (std::size_t i = from; i < to; ++i) {
    if (i != from) out += ',';
    out += std::to_string(s->ticks_ms[i]);
  }
  out += ']';
  const std::pair<const char*, const std::vector<double>*> series[] = {
      {"open", s ? &s->open : nullptr},     {"high", s ? &s->high : nullptr},
      {"low", s ? &s->low : nullptr},       {"close", s ? &s->close : nullptr},
      {"volume", s ? &s->volume : nullptr}, {"cost", s ? &s->cost : nullptr}};
  static const std::vector<double> none;
  for (const auto& [key, v] : series) {
    out += ",\"";
    out += key;
    out += "\":";
    const bool have = v != nullptr && !v->empty();
    append_array(out, have ? *v : none, have ? from : 0, have ? to : 0);
  }
  out += '}';
  return out;
}

deribit_endpoint::deribit_endpoint(const recording& rec, api_options opt)
    : rec_(&rec), opt_(std::move(opt)), recorded_(rec.channels.size(), false) {}

std::vector<std::string> deribit_endpoint::subscriptions() const {
  std::vector<std::string> out(other_.begin(), other_.end());
  for (std::size_t i = 0; i < recorded_.size(); ++i) {
    if (recorded_[i]) out.push_back(rec_->channels[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string deribit_endpoint::apply_subscription(const std::vector<std::string>& channels,
                                                 bool subscribe, request_effects& fx) {
  json result = json::array();
  std::unordered_set<std::string_view> seen;
  for (const auto& ch : channels) {
    if (!seen.insert(ch).second) continue;
    const auto id = rec_->find_channel(ch);
    bool done = false;
    if (subscribe) {
      if (id) {
        if (!recorded_[*id]) ++recorded_count_;
        recorded_[*id] = true;
        done = true;
      } else if (is_valid_channel(ch)) {
        other_.insert(ch);
        done = true;
      }
    } else {
      if (id && recorded_[*id]) {
        recorded_[*id] = false;
        --recorded_count_;
        done = true;
      } else if (!id) {
        done = other_.erase(ch) > 0;
      }
    }
    if (done) result.push_back(ch);
  }
  if (subscribe && !result.empty()) fx.subscribed = true;
  return result.dump();
}

request_effects deribit_endpoint::handle(std::string_view request, std::int64_t us_in,
                                         std::int64_t us_out, bool maintenance,
                                         std::string& reply) {
  request_effects fx;
  json doc = json::parse(request, nullptr, false);
  if (doc.is_discarded()) {
    reply = rpc_error_frame({}, rpc_code::parse_error, "Parse error", {}, us_in, us_out);
    return fx;
  }
  // Deribit accepts one request object per frame: no batches, and every request needs an id.
  auto id_it = doc.is_object() ? doc.find("id") : doc.end();
  if (!doc.is_object() || id_it == doc.end()) {
    reply = rpc_error_frame({}, rpc_code::invalid_request, "Invalid Request", {}, us_in, us_out);
    return fx;
  }
  const std::string id = id_it->dump();
  auto error = [&](int code, std::string_view message, std::string_view data = {}) {
    reply = rpc_error_frame(id, code, message, data, us_in, us_out);
    return fx;
  };
  auto result = [&](std::string_view result_json) {
    reply = rpc_result_frame(id, result_json, us_in, us_out);
    return fx;
  };
  auto m = doc.find("method");
  if (m == doc.end() || !m->is_string()) {
    return error(rpc_code::invalid_request, "Invalid Request");
  }
  if (maintenance) return error(rpc_code::system_maintenance, "system_maintenance");
  const std::string method = m->get<std::string>();
  static const json empty_params = json::object();
  const json* params = &empty_params;
  if (auto p = doc.find("params"); p != doc.end() && !p->is_null()) {
    if (!p->is_object()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be an object", "params"));
    }
    params = &*p;
  }

  if (method == "public/subscribe" || method == "public/unsubscribe") {
    auto ch = params->find("channels");
    if (ch == params->end()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be present", "channels"));
    }
    if (!ch->is_array()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("value must be a list", "channels"));
    }
    if (ch->size() > opt_.max_channels_per_request) {
      // The real answer has no id (error_request_entity_too_large.real.json).
      reply = rpc_error_frame({}, rpc_code::invalid_request, "request entity too large", {}, us_in,
                              us_out);
      return fx;
    }
    std::vector<std::string> names;
    names.reserve(ch->size());
    for (const auto& c : *ch) {
      if (c.is_string()) names.push_back(c.get<std::string>());
    }
    return result(apply_subscription(names, method == "public/subscribe", fx));
  }
  if (method == "public/unsubscribe_all") {
    std::fill(recorded_.begin(), recorded_.end(), false);
    recorded_count_ = 0;
    other_.clear();
    return result("\"ok\"");
  }
  if (method == "public/set_heartbeat") {
    auto iv = params->find("interval");
    if (iv == params->end()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be present", "interval"));
    }
    if (!iv->is_number() || iv->get<double>() < opt_.min_heartbeat_s ||
        iv->get<double>() > 3600.0) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be a number of seconds, at least " +
                                  std::to_string(opt_.min_heartbeat_s),
                              "interval"));
    }
    heartbeat_interval_s_ = static_cast<int>(iv->get<double>());
    fx.heartbeat_changed = true;
    return result("\"ok\"");
  }
  if (method == "public/disable_heartbeat") {
    heartbeat_interval_s_ = 0;
    fx.heartbeat_changed = true;
    return result("\"ok\"");
  }
  if (method == "public/test") {
    fx.test_answer = true;
    return result(json{{"version", opt_.version}}.dump());
  }
  if (method == "public/get_time") {
    return result(std::to_string(clock_ms_ > 0 ? clock_ms_ : us_out / 1000));
  }
  if (method == "public/get_instruments") {
    const auto currency = param_text(*params, "currency");
    if (!currency) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be present", "currency"));
    }
    if (!is_currency_or_any(*currency)) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("wrong format", "currency"));
    }
    const auto kind = param_text(*params, "kind");
    if (kind && !is_kind(*kind)) {
      return error(rpc_code::invalid_params, "Invalid params", error_data("wrong format", "kind"));
    }
    return result(instruments_result(*rec_, *currency, kind ? *kind : std::string{}));
  }
  if (method == "public/get_tradingview_chart_data") {
    const auto name = param_text(*params, "instrument_name");
    const auto res = param_text(*params, "resolution");
    auto start = params->find("start_timestamp");
    auto end = params->find("end_timestamp");
    if (!name || name->empty()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be present", "instrument_name"));
    }
    if (!res || !is_resolution(*res)) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be one of 1,3,5,10,15,30,60,120,180,360,720,1D", "resolution"));
    }
    if (start == params->end() || !start->is_number_integer()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be an integer (ms)", "start_timestamp"));
    }
    if (end == params->end() || !end->is_number_integer()) {
      return error(rpc_code::invalid_params, "Invalid params",
                   error_data("must be an integer (ms)", "end_timestamp"));
    }
    return result(
        chart_result(*rec_, *name, *res, start->get<std::int64_t>(), end->get<std::int64_t>()));
  }
  return error(rpc_code::method_not_found, "Method not found");
}

}  // namespace vrp::feeds::replay
