// Deribit codec throughput on real option ticker frames (one frame per iteration, so the time per
// iteration is ns per message), against two references on the same frames:
//   bm_codec        ours: classification, interning lookup, unit conversion, staging, sink push;
//   bm_nlohmann     nlohmann::json::parse + the same fields into the same option_quote;
//   bm_bare_walk    the floor: a bare simdjson On-Demand walk reading the same fields (no
//                   classification of the frame kind, no interning, no conversion).
// Frames: the five ticker reference messages and the 89 ticker frames of the cryptofeed replay.

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "vrp/feeds/deribit/codec.hpp"

namespace {

using vrp::core::option_quote;
namespace od = simdjson::ondemand;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Frames, each in its own buffer with the codec's padding after it.
struct frame_set {
  std::vector<std::vector<char>> buffers;
  std::vector<std::string_view> frames;

  void add(const std::string& text) {
    buffers.emplace_back(text.size() + vrp::feeds::deribit::required_padding(), ' ');
    std::memcpy(buffers.back().data(), text.data(), text.size());
  }
  void finish() {
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const std::size_t n = buffers[i].size() - vrp::feeds::deribit::required_padding();
      frames.emplace_back(buffers[i].data(), n);
    }
  }
};

const frame_set& ticker_frames() {
  static const frame_set set = [] {
    frame_set s;
    const std::string dir = std::string(VRP_TEST_DATA_DIR) + "/protocols/deribit/";
    for (const char* f :
         {"notif_ticker_option.real_2021.json", "notif_ticker_option_open.real_2020.json",
          "notif_ticker_option_null_stats.real_2020.json",
          "notif_ticker_option_expired.real_2020.json",
          "notif_ticker_linear_usdc_option.real_2024.json"}) {
      s.add(read_text(dir + f));
    }
    std::ifstream in(dir + "replay/cryptofeed_2021-07-22_options.frames.jsonl");
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"channel\":\"ticker.") != std::string::npos) s.add(line);
    }
    s.finish();
    return s;
  }();
  return set;
}

class last_event_sink : public vrp::core::event_sink {
 public:
  void push(const vrp::core::event& e) override { last = e; }
  vrp::core::event last;
};

// ---- (b) nlohmann: parse, then the same fields and conversions as the codec ----

double json_number(const nlohmann::json& o, const char* key) {
  const auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return vrp::core::missing;
  return it->get<double>();
}

bool nlohmann_quote(std::string_view frame, vrp::core::instrument_table& table, option_quote& q) {
  const nlohmann::json msg = nlohmann::json::parse(frame, nullptr, false);
  if (msg.is_discarded() || !msg.is_object()) return false;
  const auto& params = msg.at("params");
  const std::string& channel = params.at("channel").get_ref<const std::string&>();
  const std::string_view rest = std::string_view(channel).substr(7);
  const std::string_view name = rest.substr(0, rest.rfind('.'));
  q = option_quote{};
  q.id = table.find(name);
  if (q.id == vrp::core::no_instrument) return false;
  const auto& d = params.at("data");
  q.ts_ns = d.at("timestamp").get<std::int64_t>() * 1'000'000;
  q.underlying_price = json_number(d, "underlying_price");
  q.index_price = json_number(d, "index_price");
  q.mark_price = json_number(d, "mark_price");
  q.bid_price = json_number(d, "best_bid_price");
  q.ask_price = json_number(d, "best_ask_price");
  q.bid_amount = json_number(d, "best_bid_amount");
  q.ask_amount = json_number(d, "best_ask_amount");
  q.venue_bid_iv = json_number(d, "bid_iv") / 100.0;
  q.venue_ask_iv = json_number(d, "ask_iv") / 100.0;
  q.venue_mark_iv = json_number(d, "mark_iv") / 100.0;
  q.open_interest = json_number(d, "open_interest");
  q.interest_rate = json_number(d, "interest_rate");
  if (const auto it = d.find("underlying_index"); it != d.end() && it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s == "index_price") q.flags |= vrp::core::quote_underlying_is_index;
    if (s.rfind("SYN.", 0) == 0) q.flags |= vrp::core::quote_underlying_synthetic;
  }
  if (const auto it = d.find("state"); it != d.end() && it->is_string() && *it != "open") {
    q.flags |= vrp::core::quote_settled;
  }
  if (const auto it = d.find("estimated_delivery_price");
      it != d.end() && it->is_string() && *it == "expired") {
    q.flags |= vrp::core::quote_settled;
  }
  if (q.bid_price == 0.0 && q.bid_amount == 0.0) q.bid_price = q.venue_bid_iv = vrp::core::missing;
  if (q.ask_price == 0.0 && q.ask_amount == 0.0) q.ask_price = q.venue_ask_iv = vrp::core::missing;
  if (table.at(q.id).inverse) {
    q.bid_price *= q.underlying_price;
    q.ask_price *= q.underlying_price;
    q.mark_price *= q.underlying_price;
  }
  return true;
}

// ---- (c) the floor: a bare On-Demand walk over the same fields ----

struct bare_fields {
  double values[13];
  std::int64_t ts_ms;
};

// Keys are compared in place (literal, then the closing quote), as the codec does: the fastest
// way we know, so the floor is not flattered by a slow key match.
struct raw_key {
  const char* p;
  template <std::size_t N>
  bool is(const char (&literal)[N]) const {
    return std::memcmp(p, literal, N - 1) == 0 && p[N - 1] == '"';
  }
};

bool bare_walk(od::parser& parser, std::string_view frame, bare_fields& out) {
  od::document doc;
  if (parser.iterate(frame.data(), frame.size(), frame.size() + simdjson::SIMDJSON_PADDING)
          .get(doc)) {
    return false;
  }
  od::object data;
  if (doc["params"]["data"].get_object().get(data)) return false;
  for (auto fr : data) {
    // The field is used in place: copying it out of the result (`.get(f)`) costs a
    // store-forwarding stall per field, which would make this floor slower than it need be.
    if (fr.error()) return false;
    od::field& f = fr.value_unsafe();
    const raw_key k{f.key().raw()};
    od::value& v = f.value();
    int slot = -1;
    switch (k.p[0]) {
      case 'a':
        slot = k.is("ask_iv") ? 0 : -1;
        break;
      case 'b':
        slot = k.is("best_bid_price")    ? 1
               : k.is("best_bid_amount") ? 2
               : k.is("best_ask_price")  ? 3
               : k.is("best_ask_amount") ? 4
               : k.is("bid_iv")          ? 5
                                         : -1;
        break;
      case 'i':
        slot = k.is("index_price") ? 6 : k.is("interest_rate") ? 7 : -1;
        break;
      case 'm':
        slot = k.is("mark_price") ? 8 : k.is("mark_iv") ? 9 : -1;
        break;
      case 'o':
        slot = k.is("open_interest") ? 10 : -1;
        break;
      case 't':
        if (k.is("timestamp") && v.get_int64().get(out.ts_ms)) return false;
        break;
      case 'u':
        if (k.is("underlying_price")) {
          slot = 11;
        } else if (k.is("underlying_index")) {
          std::string_view s;
          if (v.get_string().get(s)) return false;
          out.values[12] = static_cast<double>(s.size());
        }
        break;
      default:
        break;
    }
    if (slot >= 0) {
      double d;
      // null is a legitimate value (-> NaN); anything else is an error for the floor too.
      if (v.get_double().get(d)) {
        if (!v.is_null()) return false;
        d = vrp::core::missing;
      }
      out.values[slot] = d;
    }
  }
  return true;
}

// ---- benchmarks ----

void bm_codec(benchmark::State& state) {
  const auto& set = ticker_frames();
  vrp::core::instrument_table table{4096};
  vrp::feeds::deribit::codec c{table};
  last_event_sink sink;
  for (auto f : set.frames) c.decode(f, 1, sink);  // intern once
  std::size_t i = 0;
  std::uint64_t events = 0;
  for (auto _ : state) {
    const auto info = c.decode(set.frames[i], 1, sink);
    events += info.events;
    benchmark::DoNotOptimize(sink.last);
    if (++i == set.frames.size()) i = 0;
  }
  if (events != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost events");
  state.SetItemsProcessed(state.iterations());
  state.counters["frames"] = static_cast<double>(set.frames.size());
}

void bm_nlohmann(benchmark::State& state) {
  const auto& set = ticker_frames();
  vrp::core::instrument_table table{4096};
  {
    vrp::feeds::deribit::codec c{table};  // the same interned names as bm_codec
    last_event_sink sink;
    for (auto f : set.frames) c.decode(f, 1, sink);
  }
  std::size_t i = 0;
  option_quote q;
  for (auto _ : state) {
    if (!nlohmann_quote(set.frames[i], table, q)) state.SkipWithError("nlohmann decode failed");
    benchmark::DoNotOptimize(q);
    if (++i == set.frames.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void bm_bare_walk(benchmark::State& state) {
  const auto& set = ticker_frames();
  od::parser parser;
  if (parser.allocate(1 << 20)) state.SkipWithError("allocate");
  std::size_t i = 0;
  bare_fields out{};
  for (auto _ : state) {
    if (!bare_walk(parser, set.frames[i], out)) state.SkipWithError("bare walk failed");
    benchmark::DoNotOptimize(out);
    if (++i == set.frames.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

// Before timing anything: the nlohmann path must give the codec's numbers, or (b) is not the
// same work.
[[maybe_unused]] const bool checked = [] {
  const auto& set = ticker_frames();
  vrp::core::instrument_table table{4096};
  vrp::feeds::deribit::codec c{table};
  last_event_sink sink;
  for (auto f : set.frames) {
    c.decode(f, 1, sink);
    option_quote q;
    const auto& ours = std::get<option_quote>(sink.last);
    if (!nlohmann_quote(f, table, q)) std::abort();
    auto same = [](double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; };
    if (!same(q.bid_price, ours.bid_price) || !same(q.ask_price, ours.ask_price) ||
        !same(q.mark_price, ours.mark_price) || !same(q.venue_mark_iv, ours.venue_mark_iv) ||
        q.flags != ours.flags || q.ts_ns != ours.ts_ns) {
      std::fprintf(stderr, "nlohmann and codec disagree on %.*s\n", static_cast<int>(f.size()),
                   f.data());
      std::abort();
    }
  }
  return true;
}();

BENCHMARK(bm_codec);
BENCHMARK(bm_nlohmann);
BENCHMARK(bm_bare_walk);

}  // namespace

BENCHMARK_MAIN();
