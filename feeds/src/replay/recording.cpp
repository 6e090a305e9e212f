#include "vrp/feeds/replay/recording.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "replay/split.hpp"

namespace vrp::feeds::replay {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_warnings = 20;
constexpr double max_capture_ts_s = 7'258'118'400.0;  // 2200-01-01T00:00Z

bool is_currency(std::string_view s) {
  if (s.empty() || s.size() > 15) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms", days_from_civil).
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// Deribit expiry codes: 24SEP21, 6AUG21. Deribit expires at 08:00 UTC.
std::optional<std::int64_t> parse_expiry_ms(std::string_view code) {
  static constexpr std::array<std::string_view, 12> months = {
      "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  if (code.size() < 6 || code.size() > 7) return std::nullopt;
  const std::size_t day_len = code.size() - 5;
  unsigned day = 0;
  unsigned year = 0;
  auto r1 = std::from_chars(code.data(), code.data() + day_len, day);
  if (r1.ec != std::errc{} || r1.ptr != code.data() + day_len || day < 1 || day > 31) {
    return std::nullopt;
  }
  const auto mon = code.substr(day_len, 3);
  const auto it = std::find(months.begin(), months.end(), mon);
  if (it == months.end()) return std::nullopt;
  const auto yy = code.substr(day_len + 3);
  auto r2 = std::from_chars(yy.data(), yy.data() + yy.size(), year);
  if (r2.ec != std::errc{} || r2.ptr != yy.data() + yy.size()) return std::nullopt;
  const auto month = static_cast<unsigned>(it - months.begin()) + 1;
  constexpr std::int64_t ms_per_day = 86'400'000;
  return days_from_civil(2000 + static_cast<int>(year), month, day) * ms_per_day + 8 * 3'600'000;
}

// Strikes use 'd' for the decimal point in linear names (1d02 = 1.02).
std::optional<double> parse_strike(std::string_view s) {
  if (s.empty() || s.size() > 24) return std::nullopt;
  std::string text(s);
  std::replace(text.begin(), text.end(), 'd', '.');
  if (!std::all_of(text.begin(), text.end(),
                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
    return std::nullopt;
  double v = 0.0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || !(v > 0.0)) return std::nullopt;
  return v;
}

// Deribit writes numbers like 8000.0; keep that look for integral values.
std::string format_number(double v) {
  std::array<char, 64> buf{};
  auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  std::string s(buf.data(), r.ptr);
  if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string param_value_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

struct loader {
  recording rec;
  load_error error;
  bool seen_recording = false;
  bool seen_capture = false;
  bool seen_frames = false;
  std::int64_t last_ts_ns = 0;

  void warn(std::size_t line, std::string msg) {
    ++rec.skipped;
    if (rec.warnings.size() < max_warnings) {
      rec.warnings.push_back("line " + std::to_string(line) + ": " + std::move(msg));
    }
  }

  bool fail(std::size_t line, std::string msg) {
    error.line = line;
    error.message = std::move(msg);
    return false;
  }

  // Adds `text` as a playable frame when it is a subscription notification; false (with a
  // warning) otherwise.
  void add_frame(std::size_t line, std::string text, std::int64_t ts_ns, bool warn_if_not) {
    json doc = json::parse(text, nullptr, false);
    const json* channel = nullptr;
    if (doc.is_object()) {
      auto m = doc.find("method");
      auto p = doc.find("params");
      if (m != doc.end() && m->is_string() && m->get_ref<const std::string&>() == "subscription" &&
          p != doc.end() && p->is_object()) {
        auto c = p->find("channel");
        if (c != p->end() && c->is_string()) channel = &*c;
      }
    }
    if (channel == nullptr) {
      if (warn_if_not) {
        warn(line, "frame is not a subscription notification; skipped");
      } else {
        ++rec.skipped;
      }
      return;
    }
    const auto& name = channel->get_ref<const std::string&>();
    auto [it, inserted] =
        rec.channel_ids.try_emplace(name, static_cast<std::uint32_t>(rec.channels.size()));
    if (inserted) rec.channels.push_back(name);
    rec.frames.push_back(recorded_frame{ts_ns, it->second, std::move(text)});
  }

  bool on_rpc(std::size_t line, const json& doc) {
    const auto& m = doc["rpc"];
    if (!m.is_string()) return fail(line, "\"rpc\" must be a method name string");
    auto res = doc.find("result");
    if (res == doc.end()) return fail(line, "rpc line without \"result\"");
    canned_rpc c;
    c.method = m.get<std::string>();
    if (auto p = doc.find("params"); p != doc.end()) {
      if (!p->is_object()) return fail(line, "rpc \"params\" must be an object");
      for (const auto& [k, v] : p->items()) c.params.emplace_back(k, param_value_text(v));
    }
    if (res->is_array()) {
      c.result_is_array = true;
      c.result_items.reserve(res->size());
      for (const auto& item : *res) c.result_items.push_back(item.dump());
    } else {
      c.result_text = res->dump();
    }
    rec.rpcs.push_back(std::move(c));
    return true;
  }

  bool on_chart(std::size_t line, const json& doc) {
    const auto& c = doc["chart"];
    if (!c.is_object()) return fail(line, "\"chart\" must be an object");
    chart_series s;
    auto name = c.find("instrument_name");
    auto res = c.find("resolution");
    if (name == c.end() || !name->is_string()) return fail(line, "chart without instrument_name");
    if (res == c.end() || !(res->is_string() || res->is_number_integer())) {
      return fail(line, "chart without resolution");
    }
    s.instrument_name = name->get<std::string>();
    s.resolution = param_value_text(*res);
    auto ticks = c.find("ticks");
    if (ticks == c.end() || !ticks->is_array()) return fail(line, "chart without ticks array");
    for (const auto& t : *ticks) {
      if (!t.is_number_integer()) return fail(line, "chart ticks must be integers (ms)");
      s.ticks_ms.push_back(t.get<std::int64_t>());
    }
    if (!std::is_sorted(s.ticks_ms.begin(), s.ticks_ms.end())) {
      return fail(line, "chart ticks are not ascending");
    }
    const std::pair<const char*, std::vector<double>*> series[] = {
        {"open", &s.open},   {"high", &s.high},     {"low", &s.low},
        {"close", &s.close}, {"volume", &s.volume}, {"cost", &s.cost}};
    for (const auto& [key, out] : series) {
      auto a = c.find(key);
      if (a == c.end()) continue;  // optional series come back empty
      if (!a->is_array() || a->size() != s.ticks_ms.size()) {
        return fail(line, std::string("chart \"") + key + "\" must be an array as long as ticks");
      }
      for (const auto& v : *a) {
        if (!v.is_number())
          return fail(line, std::string("chart \"") + key + "\" holds a non-number");
        out->push_back(v.get<double>());
      }
    }
    rec.charts.push_back(std::move(s));
    return true;
  }

  bool on_line(std::size_t line, std::string_view text) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return fail(line, "not valid JSON");
    if (!doc.is_object()) return fail(line, "not a JSON object");
    ++rec.lines;
    if (doc.contains("meta")) {
      seen_recording = true;
      rec.meta.push_back(doc["meta"].dump());
      return true;
    }
    if (doc.contains("rpc")) {
      seen_recording = true;
      return on_rpc(line, doc);
    }
    if (doc.contains("chart")) {
      seen_recording = true;
      return on_chart(line, doc);
    }
    if (doc.contains("ts_ns") && doc.contains("frame")) {
      seen_recording = true;
      const auto& ts = doc["ts_ns"];
      const auto& fr = doc["frame"];
      if (!ts.is_number_integer()) return fail(line, "\"ts_ns\" must be an integer");
      if (!fr.is_string()) return fail(line, "\"frame\" must be a string");
      const auto ts_ns = ts.get<std::int64_t>();
      if (ts_ns < last_ts_ns) return fail(line, "ts_ns goes backwards");
      last_ts_ns = ts_ns;
      add_frame(line, fr.get<std::string>(), ts_ns, true);
      return true;
    }
    if (doc.contains("dir")) {
      seen_capture = true;
      const auto& dir = doc["dir"];
      if (!dir.is_string()) return fail(line, "\"dir\" must be a string");
      if (dir.get_ref<const std::string&>() != "recv") {
        ++rec.skipped;  // opens and client sends are not played
        return true;
      }
      auto ts = doc.find("ts");
      auto fr = doc.find("frame");
      if (ts == doc.end() || !ts->is_number()) return fail(line, "capture line without \"ts\"");
      if (fr == doc.end() || !fr->is_string()) return fail(line, "capture line without \"frame\"");
      // Checked first: beyond int64 nanoseconds the conversion below is undefined behaviour.
      const double ts_s = ts->get<double>();
      if (!(ts_s >= 0.0 && ts_s <= max_capture_ts_s)) {
        return fail(line, "capture \"ts\" must be seconds since 1970 before 2200");
      }
      // Capture times are seconds with microsecond resolution; round there, not below.
      auto ts_ns = static_cast<std::int64_t>(std::llround(ts_s * 1e6)) * 1000;
      // Receive times can only step back by clock adjustment: play such a frame at once.
      ts_ns = std::max(ts_ns, last_ts_ns);
      last_ts_ns = ts_ns;
      add_frame(line, fr->get<std::string>(), ts_ns, false);
      return true;
    }
    if (doc.contains("jsonrpc")) {
      seen_frames = true;
      add_frame(line, std::string(text), 0, false);
      return true;
    }
    warn(line, "unknown line form; skipped");
    return true;
  }

  void derive_instruments() {
    const bool canned = std::any_of(rec.rpcs.begin(), rec.rpcs.end(), [](const canned_rpc& c) {
      return c.method == "public/get_instruments";
    });
    std::set<std::string> names;
    if (canned) {
      for (const auto& c : rec.rpcs) {
        if (c.method != "public/get_instruments") continue;
        for (const auto& item : c.result_items) {
          json doc = json::parse(item, nullptr, false);
          if (!doc.is_object()) continue;
          auto n = doc.find("instrument_name");
          if (n != doc.end() && n->is_string()) names.insert(n->get<std::string>());
        }
      }
      rec.instruments.assign(names.begin(), names.end());
      return;
    }
    for (const auto& ch : rec.channels) {
      const auto inst = channel_instrument(ch);
      if (!inst.empty()) names.emplace(inst);
    }
    // (currency, kind) -> elements, in name order.
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> groups;
    for (const auto& n : names) {
      auto d = derive_instrument(n);
      if (!d) continue;
      rec.instruments.push_back(d->name);
      groups[{d->settlement_currency, d->kind}].push_back(std::move(d->json));
    }
    for (auto& [key, items] : groups) {
      canned_rpc c;
      c.method = "public/get_instruments";
      c.params = {{"currency", key.first}, {"kind", key.second}};
      c.result_is_array = true;
      c.result_items = std::move(items);
      rec.rpcs.push_back(std::move(c));
    }
    rec.instruments_derived = true;
  }
};

}  // namespace

std::string_view recording_form_name(recording_form f) {
  switch (f) {
    case recording_form::empty:
      return "empty";
    case recording_form::recording:
      return "recording";
    case recording_form::capture:
      return "capture";
    case recording_form::frames:
      return "frames";
    case recording_form::mixed:
      return "mixed";
  }
  return "unknown";
}

std::optional<std::uint32_t> recording::find_channel(std::string_view name) const {
  auto it = channel_ids.find(std::string(name));
  if (it == channel_ids.end()) return std::nullopt;
  return it->second;
}

std::string_view channel_instrument(std::string_view channel) {
  const auto parts = split(channel, '.');
  if (parts.size() < 2) return {};
  const auto head = parts[0];
  if (head == "chart" && parts.size() == 4 && parts[1] == "trades") return parts[2];
  if (head == "trades" && parts.size() == 4) return {};  // trades.{kind}.{currency}.{interval}
  if (head == "ticker" || head == "book" || head == "trades" || head == "perpetual" ||
      head == "quote" || head == "incremental_ticker") {
    return parts[1];
  }
  return {};
}

std::optional<derived_instrument> derive_instrument(std::string_view name) {
  // Deribit names are printable ASCII; anything else (e.g. invalid UTF-8, which the JSON
  // serializer below throws on) is no instrument.
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f; })) {
    return std::nullopt;
  }
  const auto parts = split(name, '-');
  if (parts.size() != 2 && parts.size() != 4) return std::nullopt;
  const auto pair = split(parts[0], '_');
  if (pair.size() > 2) return std::nullopt;
  for (auto p : pair) {
    if (!is_currency(p)) return std::nullopt;
  }
  const std::string base(pair[0]);
  const bool linear = pair.size() == 2;
  const std::string settlement = linear ? std::string(pair[1]) : base;

  derived_instrument d;
  d.name = std::string(name);
  d.settlement_currency = settlement;
  std::string fields = "{\"instrument_name\":" + json(d.name).dump();
  if (parts.size() == 2) {
    d.kind = "future";
    fields += ",\"kind\":\"future\"";
    if (parts[1] == "PERPETUAL") {
      fields += ",\"settlement_period\":\"perpetual\"";
    } else {
      auto exp = parse_expiry_ms(parts[1]);
      if (!exp) return std::nullopt;
      fields += ",\"expiration_timestamp\":" + std::to_string(*exp);
    }
  } else {
    auto exp = parse_expiry_ms(parts[1]);
    auto strike = parse_strike(parts[2]);
    if (!exp || !strike || (parts[3] != "C" && parts[3] != "P")) return std::nullopt;
    d.kind = "option";
    fields += ",\"kind\":\"option\",\"option_type\":";
    fields += parts[3] == "C" ? "\"call\"" : "\"put\"";
    fields += ",\"strike\":" + format_number(*strike);
    fields += ",\"expiration_timestamp\":" + std::to_string(*exp);
  }
  // Inverse contracts: options are quoted in the coin, futures in USD (as in the 2021 real list).
  std::string quote = linear ? settlement : (d.kind == "option" ? base : std::string("USD"));
  fields += ",\"base_currency\":" + json(base).dump();
  fields += ",\"quote_currency\":" + json(quote).dump();
  fields += ",\"settlement_currency\":" + json(settlement).dump();
  fields += ",\"is_active\":true}";
  d.json = std::move(fields);
  return d;
}

load_result parse_recording(std::string_view text) {
  loader ld;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!ld.on_line(line_no, line)) return load_result{std::nullopt, std::move(ld.error)};
  }
  const int forms = int{ld.seen_recording} + int{ld.seen_capture} + int{ld.seen_frames};
  auto& rec = ld.rec;
  if (forms > 1) {
    return load_result{std::nullopt,
                       load_error{0, "the input mixes recording, capture and bare-frame lines"}};
  }
  rec.form = ld.seen_recording ? recording_form::recording
             : ld.seen_capture ? recording_form::capture
             : ld.seen_frames  ? recording_form::frames
                               : recording_form::empty;
  rec.paced = rec.form == recording_form::recording || rec.form == recording_form::capture;
  ld.derive_instruments();
  return load_result{std::move(rec), {}};
}

load_result load_recording_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return load_result{std::nullopt, load_error{0, "cannot open " + path}};
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_recording(ss.str());
}

}  // namespace vrp::feeds::replay
