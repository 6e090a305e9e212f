#include "vrp/config/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

namespace vrp::config {

config_error::config_error(const std::string& message, std::string key, std::uint32_t line,
                           std::uint32_t column)
    : std::runtime_error(message), key_(std::move(key)), line_(line), column_(column) {}

namespace {

// ---------------------------------------------------------------------------------------------
// Error text

// Where errors come from: a file (or source name) for keys, nothing for command-line flags.
struct origin {
  std::string_view source;
};

[[noreturn]] void fail(const origin& at, const std::string& key, const std::string& problem,
                       const toml::node* node = nullptr) {
  std::string message;
  if (!at.source.empty()) {
    message.append(at.source).append(": ");
  }
  message.append(key).append(": ").append(problem);
  std::uint32_t line = 0, column = 0;
  if (node != nullptr) {
    line = node->source().begin.line;
    column = node->source().begin.column;
  }
  throw config_error(message, key, line, column);
}

// A string value as it would be written in TOML, shortened so that a pasted blob stays readable.
std::string quote(std::string_view s) {
  constexpr std::size_t max_shown = 96;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out.append("\\u00").push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > max_shown) out.append("...");
  out.push_back('"');
  return out;
}

std::string format_double(double v) {
  std::array<char, 64> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return {buf.data(), r.ptr};
}

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

[[noreturn]] void fail_type(const origin& at, const std::string& key, const toml::node& node,
                            std::string_view expected) {
  std::string problem = "expected ";
  problem.append(expected).append(", found ").append(type_name(node.type()));
  if (const auto* s = node.as_string()) problem.append(" (").append(quote(s->get())).append(")");
  if (const auto* i = node.as_integer())
    problem.append(" (").append(std::to_string(i->get())).append(")");
  if (const auto* f = node.as_floating_point()) {
    problem.append(" (").append(format_double(f->get())).append(")");
  }
  fail(at, key, problem, &node);
}

[[noreturn]] void fail_value(const origin& at, const std::string& key, const std::string& shown,
                             std::string_view allowed, const toml::node* node = nullptr) {
  std::string problem = shown;
  problem.append(" is not allowed (").append(allowed).append(")");
  fail(at, key, problem, node);
}

std::string join(const std::vector<std::string_view>& names, std::string_view sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(names[i]);
  }
  return out;
}

// Levenshtein distance, to suggest the key a typo meant.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string integer_range(std::int64_t lo, std::int64_t hi) {
  return "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
}

// ---------------------------------------------------------------------------------------------
// One TOML table: rejects unknown keys up front, then hands out type-checked values.

class table_reader {
 public:
  // `path` is the table's full key path ("api", "venues.deribit"), empty for the root.
  table_reader(const origin& at, const toml::table* table, std::string path,
               std::vector<std::string_view> allowed)
      : at_(at), table_(table), path_(std::move(path)), allowed_(std::move(allowed)) {
    if (table_ == nullptr) return;
    for (auto&& [k, v] : *table_) {
      const std::string_view key = k.str();
      if (std::find(allowed_.begin(), allowed_.end(), key) != allowed_.end()) continue;
      std::string problem = v.is_table() ? "unknown table" : "unknown key";
      problem.append(" (allowed ")
          .append(path_.empty() ? std::string("at the top level") : "in [" + path_ + "]")
          .append(": ")
          .append(join(allowed_));
      std::string_view best;
      std::size_t best_distance = 3;  // suggest only close misspellings
      for (const auto name : allowed_) {
        const std::size_t d = edit_distance(key, name);
        if (d < best_distance) best_distance = d, best = name;
      }
      if (!best.empty()) problem.append("; did you mean ").append(best).append("?");
      problem.append(")");
      fail(at_, key_path(key), problem, &v);
    }
  }

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const origin& at() const { return at_; }

  const toml::node* find(std::string_view key) const {
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  const toml::table* table(std::string_view key) const {
    const toml::node* n = find(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail_type(at_, key_path(key), *n, "a table");
    return n->as_table();
  }

  const toml::array* array(std::string_view key) const {
    const toml::node* n = find(key);
    if (n == nullptr) return nullptr;
    if (!n->is_array()) fail_type(at_, key_path(key), *n, "an array");
    return n->as_array();
  }

  bool boolean(std::string_view key, bool fallback) const {
    const toml::node* n = find(key);
    if (n == nullptr) return fallback;
    if (!n->is_boolean()) fail_type(at_, key_path(key), *n, "a boolean (true or false)");
    return n->as_boolean()->get();
  }

  std::optional<std::string> string(std::string_view key) const {
    const toml::node* n = find(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) fail_type(at_, key_path(key), *n, "a string");
    return n->as_string()->get();
  }

  // An integer in [lo, hi]; `allowed` describes the range in the error (default "an integer
  // between lo and hi").
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi, std::string_view allowed = {}) const {
    const toml::node* n = find(key);
    if (n == nullptr) return fallback;
    if (!n->is_integer()) fail_type(at_, key_path(key), *n, "an integer");
    const std::int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      fail_value(at_, key_path(key), std::to_string(v),
                 allowed.empty() ? integer_range(lo, hi) : std::string(allowed), n);
    }
    return v;
  }

  // A finite number in [lo, hi]; an integer is accepted where a float is expected.
  double number(std::string_view key, double fallback, double lo, double hi,
                std::string_view allowed) const {
    const toml::node* n = find(key);
    if (n == nullptr) return fallback;
    double v = 0;
    if (const auto* f = n->as_floating_point()) {
      v = f->get();
    } else if (const auto* i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      fail_type(at_, key_path(key), *n, "a number");
    }
    if (!std::isfinite(v) || v < lo || v > hi) {
      fail_value(at_, key_path(key), format_double(v), allowed, n);
    }
    return v;
  }

  // One of a fixed set of names.
  template <class Enum, std::size_t N>
  std::optional<Enum> choice(std::string_view key,
                             const std::array<std::pair<std::string_view, Enum>, N>& names) const {
    const toml::node* n = find(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) fail_type(at_, key_path(key), *n, "a string");
    const std::string_view v = n->as_string()->get();
    for (const auto& [name, value] : names) {
      if (name == v) return value;
    }
    std::vector<std::string_view> list;
    list.reserve(N);
    for (const auto& entry : names) list.push_back(entry.first);
    fail_value(at_, key_path(key), quote(v), "one of " + join(list), n);
  }

 private:
  const origin& at_;
  const toml::table* table_;
  std::string path_;
  std::vector<std::string_view> allowed_;
};

template <class Enum, std::size_t N>
std::optional<Enum> name_to_enum(std::string_view v,
                                 const std::array<std::pair<std::string_view, Enum>, N>& names) {
  for (const auto& [name, value] : names) {
    if (name == v) return value;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, severity>, 6> severity_names{{
    {"trace", severity::trace},
    {"debug", severity::debug},
    {"info", severity::info},
    {"warn", severity::warn},
    {"error", severity::error},
    {"off", severity::off},
}};
constexpr std::array<std::pair<std::string_view, fit_source>, 2> fit_source_names{{
    {"mark", fit_source::mark},
    {"mid", fit_source::mid},
}};
constexpr std::array<std::pair<std::string_view, wait_strategy>, 3> wait_names{{
    {"spin", wait_strategy::spin},
    {"spin_then_park", wait_strategy::spin_then_park},
    {"park", wait_strategy::park},
}};
constexpr std::array<std::pair<std::string_view, thread_placement>, 2> thread_names{{
    {"io", thread_placement::io},
    {"own", thread_placement::own},
}};
constexpr std::array<std::pair<std::string_view, delta_bucket>, 5> bucket_names{{
    {"10p", delta_bucket::put10},
    {"25p", delta_bucket::put25},
    {"atm", delta_bucket::atm},
    {"25c", delta_bucket::call25},
    {"10c", delta_bucket::call10},
}};
constexpr std::array<std::pair<std::string_view, forecast_model>, 4> model_names{{
    {"garch", forecast_model::garch},
    {"gjr", forecast_model::gjr},
    {"egarch", forecast_model::egarch},
    {"har", forecast_model::har},
}};
constexpr std::array<std::pair<std::string_view, garch_model>, 3> garch_names{{
    {"garch", garch_model::garch},
    {"gjr", garch_model::gjr},
    {"egarch", garch_model::egarch},
}};
constexpr std::array<std::pair<std::string_view, garch_dist>, 2> dist_names{{
    {"normal", garch_dist::normal},
    {"t", garch_dist::t},
}};
constexpr std::array<std::pair<std::string_view, garch_mean>, 2> mean_names{{
    {"zero", garch_mean::zero},
    {"constant", garch_mean::constant},
}};
constexpr std::array<std::pair<std::string_view, feed_interval>, 3> interval_names{{
    {"100ms", feed_interval::ms100},
    {"raw", feed_interval::raw},
    {"agg2", feed_interval::agg2},
}};

// ---------------------------------------------------------------------------------------------
// Addresses

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label == 0 || label > 63 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    (c == '-' && label > 0);
    if (!ok) return false;
    ++label;
  }
  return true;
}

// Decimal port in [lo, 65535]; no sign, at most 5 digits.
std::optional<std::uint16_t> parse_port(std::string_view s, unsigned lo) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v < lo || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

constexpr std::string_view listen_allowed =
    "host:port with host an IPv4 or IPv6 literal or localhost, IPv6 in brackets as in [::1]:8080, "
    "and port 0 to 65535 (0 = pick a free port)";

// Returns the problem, or empty and fills host and port.
std::string parse_listen(std::string_view s, std::string& host, std::uint16_t& port) {
  std::string_view host_part, port_part;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return "the IPv6 address lacks its closing bracket";
    host_part = s.substr(1, close - 1);
    if (close + 1 >= s.size() || s[close + 1] != ':') return "the port is missing";
    port_part = s.substr(close + 2);
    if (!is_ipv6(std::string(host_part))) return "the bracketed host is not an IPv6 address";
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return "the port is missing";
    host_part = s.substr(0, colon);
    port_part = s.substr(colon + 1);
    if (host_part.find(':') != std::string_view::npos) {
      return "an IPv6 address needs brackets, as in [::1]:8080";
    }
    if (!iequals(host_part, "localhost") && !is_ipv4(std::string(host_part))) {
      return "the host must be an IPv4 or IPv6 literal or localhost";
    }
  }
  const auto p = parse_port(port_part, 0);
  if (!p) return "the port must be a number between 0 and 65535";
  host = std::string(host_part);
  port = *p;
  return {};
}

bool is_loopback(const std::string& host) {
  if (iequals(host, "localhost")) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    return std::memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
  }
  return false;
}

constexpr std::string_view url_shape =
    "expected wss://host[:port][/path], or ws:// for a loopback host";

// Returns the problem, or empty and fills the parsed url_* fields of `out`.
std::string parse_ws_url(std::string_view s, deribit_section& out) {
  bool tls = false;
  std::string_view rest;
  if (s.substr(0, 6) == "wss://") {
    tls = true;
    rest = s.substr(6);
  } else if (s.substr(0, 5) == "ws://") {
    rest = s.substr(5);
  } else {
    return "the scheme must be ws:// or wss://";
  }
  for (const char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "the URL contains a space or control character";
    }
  }
  if (rest.find('#') != std::string_view::npos) return "a fragment (#...) is not allowed";
  const auto end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return "credentials in the URL are not supported";
  }
  std::string_view host_part, port_part;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "the IPv6 address lacks its closing bracket";
    host_part = authority.substr(1, close - 1);
    if (!is_ipv6(std::string(host_part))) return "the bracketed host is not an IPv6 address";
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "unexpected text after the IPv6 address";
      has_port = true;
      port_part = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    host_part = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_part = authority.substr(colon + 1);
    }
    if (host_part.empty()) return "the host is missing";
    if (!is_host_name(host_part)) return "the host is neither a host name nor an IP address";
  }
  std::uint16_t port = tls ? 443 : 80;
  if (has_port) {
    const auto p = parse_port(port_part, 1);
    if (!p) return "the port must be a number between 1 and 65535";
    port = *p;
  }
  const std::string host(host_part);
  if (!tls && !is_loopback(host)) {
    return "ws:// (no TLS) is only allowed for loopback hosts 127.0.0.0/8, localhost or ::1; "
           "use wss://";
  }
  out.url = std::string(s);
  out.url_host = host;
  out.url_port = port;
  out.url_tls = tls;
  out.url_target = target.empty()          ? "/"
                   : target.front() == '?' ? "/" + std::string(target)
                                           : std::string(target);
  return {};
}

void check_url(const origin& at, const std::string& key, const std::string& url,
               deribit_section& out, const toml::node* node) {
  std::string problem = parse_ws_url(url, out);
  if (problem.empty()) return;
  if (problem.rfind("ws://", 0) != 0) problem.append("; ").append(url_shape);
  fail_value(at, key, quote(url), problem, node);
}

void check_listen(const origin& at, const std::string& key, const std::string& listen,
                  api_section& out, const toml::node* node) {
  std::string host;
  std::uint16_t port = 0;
  const std::string problem = parse_listen(listen, host, port);
  if (!problem.empty()) {
    fail_value(at, key, quote(listen), problem + "; expected " + std::string(listen_allowed), node);
  }
  out.listen = listen;
  out.listen_host = std::move(host);
  out.listen_port = port;
}

void check_state_dir(const origin& at, const std::string& key, const std::string& dir,
                     const toml::node* node) {
  if (dir.empty()) fail(at, key, "must not be empty (a directory for the state store)", node);
  for (const char c : dir) {
    if (static_cast<unsigned char>(c) < 0x20) {
      fail_value(at, key, quote(dir), "a directory path without control characters", node);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sections

std::size_t to_size(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

void read_service(const table_reader& root, service_section& s) {
  const table_reader r(root.at(), root.table("service"), "service", {"state_dir", "log_level"});
  if (auto dir = r.string("state_dir")) {
    check_state_dir(r.at(), r.key_path("state_dir"), *dir, r.find("state_dir"));
    s.state_dir = std::move(*dir);
  }
  if (const auto v = r.choice("log_level", severity_names)) s.log_level = *v;
}

// A non-empty `value` of `key` must name an existing regular file.
void check_existing_file(const table_reader& r, std::string_view key, const std::string& value,
                         const char* problem) {
  std::error_code ec;
  if (!value.empty() && !std::filesystem::is_regular_file(value, ec)) {
    fail_value(r.at(), r.key_path(key), quote(value), problem, r.find(key));
  }
}

void read_api(const table_reader& root, api_section& a) {
  const table_reader r(
      root.at(), root.table("api"), "api",
      {"listen", "max_connections", "max_connections_per_address", "max_subscriptions_per_client",
       "subscriber_queue", "slow_consumer_timeout_ms", "max_request_bytes", "max_header_bytes",
       "ws_max_message_bytes", "idle_timeout_s", "history_points", "history_interval_ms", "token",
       "tls_cert_file", "tls_key_file", "thread"});
  if (const auto listen = r.string("listen")) {
    check_listen(r.at(), r.key_path("listen"), *listen, a, r.find("listen"));
  }
  a.max_connections = to_size(r.integer("max_connections", 256, 1, 65'535));
  a.max_connections_per_address = to_size(r.integer("max_connections_per_address", 64, 1, 65'535));
  if (a.max_connections_per_address > a.max_connections) {
    fail_value(r.at(), r.key_path("max_connections_per_address"),
               std::to_string(a.max_connections_per_address),
               "at most api.max_connections = " + std::to_string(a.max_connections),
               r.find("max_connections_per_address"));
  }
  a.max_subscriptions_per_client = to_size(r.integer("max_subscriptions_per_client", 16, 1, 1'024));
  a.subscriber_queue = to_size(r.integer("subscriber_queue", 64, 1, 65'536));
  a.slow_consumer_timeout_ms = std::chrono::milliseconds(r.integer(
      "slow_consumer_timeout_ms", 5'000, 100, 600'000, "milliseconds between 100 and 600000"));
  a.max_request_bytes = to_size(
      r.integer("max_request_bytes", 16'384, 1'024, 16'777'216, "bytes between 1024 and 16777216"));
  a.max_header_bytes = to_size(
      r.integer("max_header_bytes", 8'192, 1'024, 1'048'576, "bytes between 1024 and 1048576"));
  a.ws_max_message_bytes = to_size(r.integer("ws_max_message_bytes", 65'536, 1'024, 16'777'216,
                                             "bytes between 1024 and 16777216"));
  a.idle_timeout_s = std::chrono::seconds(
      r.integer("idle_timeout_s", 60, 1, 86'400, "seconds between 1 and 86400"));
  a.history_points = to_size(r.integer("history_points", 100'000, 1, 10'000'000));
  a.history_interval_ms = std::chrono::milliseconds(r.integer(
      "history_interval_ms", 1'000, 0, 86'400'000, "milliseconds between 0 and 86400000"));
  if (auto token = r.string("token")) {
    for (const char c : *token) {
      if (c < 0x21 || c > 0x7e) {
        // The value is a secret: never echo it.
        fail(r.at(), r.key_path("token"),
             "the token may contain only visible ASCII characters (no spaces); value not shown",
             r.find("token"));
      }
    }
    a.token = std::move(*token);
  }
  const char* const tls_hint =
      "no such file; give an existing PEM file, or leave both "
      "api.tls_cert_file and api.tls_key_file empty for plain HTTP";
  if (auto cert = r.string("tls_cert_file")) {
    check_existing_file(r, "tls_cert_file", *cert, tls_hint);
    a.tls_cert_file = std::move(*cert);
  }
  if (auto key = r.string("tls_key_file")) {
    check_existing_file(r, "tls_key_file", *key, tls_hint);
    a.tls_key_file = std::move(*key);
  }
  if (a.tls_cert_file.empty() != a.tls_key_file.empty()) {
    const bool cert_missing = a.tls_cert_file.empty();
    const std::string key = cert_missing ? "tls_cert_file" : "tls_key_file";
    fail(r.at(), r.key_path(key),
         "TLS needs both api.tls_cert_file and api.tls_key_file (" +
             std::string(cert_missing ? "api.tls_key_file" : "api.tls_cert_file") +
             " is set); set both, or neither for plain HTTP",
         r.find(cert_missing ? "tls_key_file" : "tls_cert_file"));
  }
  if (const auto v = r.choice("thread", thread_names)) a.thread = *v;
}

// Non-empty list of unique codes of uppercase letters and digits.
std::vector<std::string> read_codes(const table_reader& r, std::string_view key,
                                    std::vector<std::string> fallback, std::string_view what) {
  const toml::array* arr = r.array(key);
  if (arr == nullptr) return fallback;
  const std::string path = r.key_path(key);
  if (arr->empty())
    fail(r.at(), path, "must not be empty (a list of " + std::string(what) + ")", arr);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& n = *arr->get(i);
    const std::string item = path + "[" + std::to_string(i) + "]";
    if (!n.is_string()) fail_type(r.at(), item, n, "a string");
    const std::string& v = n.as_string()->get();
    const bool ok = !v.empty() && v.size() <= 16 && std::all_of(v.begin(), v.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    });
    if (!ok) fail_value(r.at(), item, quote(v), "1 to 16 uppercase letters A-Z or digits 0-9", &n);
    const auto dup = std::find(out.begin(), out.end(), v);
    if (dup != out.end()) {
      fail_value(r.at(), item, quote(v),
                 "duplicate of " + path + "[" + std::to_string(dup - out.begin()) + "]", &n);
    }
    out.push_back(v);
  }
  return out;
}

void read_engine(const table_reader& root, engine_section& e) {
  const table_reader r(
      root.at(), root.table("engine"), "engine",
      {"underlyings", "tenors_days", "buckets", "fit_on", "refit_interval_ms", "stale_quote_s",
       "data_timeout_s", "min_expiry_hours", "min_quotes_per_expiry", "max_refits_per_publish",
       "reject_outliers", "max_extrapolation_ratio", "ring_capacity", "thread", "wait", "spin_us"});
  e.underlyings = read_codes(r, "underlyings", e.underlyings, "underlyings such as \"BTC\"");

  if (const toml::array* arr = r.array("tenors_days")) {
    const std::string path = r.key_path("tenors_days");
    if (arr->empty()) fail(r.at(), path, "must not be empty (a list of tenors in days)", arr);
    e.tenors_days.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& n = *arr->get(i);
      const std::string item = path + "[" + std::to_string(i) + "]";
      if (!n.is_integer()) fail_type(r.at(), item, n, "an integer");
      const std::int64_t v = n.as_integer()->get();
      if (v < 1 || v > 3'650) {
        fail_value(r.at(), item, std::to_string(v), "whole days between 1 and 3650", &n);
      }
      if (!e.tenors_days.empty() && v <= e.tenors_days.back()) {
        fail_value(r.at(), item, std::to_string(v),
                   "tenors must be unique and ascending; the one before is " +
                       std::to_string(e.tenors_days.back()),
                   &n);
      }
      e.tenors_days.push_back(static_cast<int>(v));
    }
  }

  if (const toml::array* arr = r.array("buckets")) {
    const std::string path = r.key_path("buckets");
    if (arr->empty())
      fail(r.at(), path, "must not be empty (a subset of 10p, 25p, atm, 25c, 10c)", arr);
    std::array<int, bucket_names.size()> seen_at{};
    seen_at.fill(-1);
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& n = *arr->get(i);
      const std::string item = path + "[" + std::to_string(i) + "]";
      if (!n.is_string()) fail_type(r.at(), item, n, "a string");
      const std::string& v = n.as_string()->get();
      const auto b = name_to_enum(v, bucket_names);
      if (!b) fail_value(r.at(), item, quote(v), "one of 10p, 25p, atm, 25c, 10c", &n);
      int& seen = seen_at[static_cast<std::size_t>(*b)];
      if (seen >= 0) {
        fail_value(r.at(), item, quote(v),
                   "duplicate of " + path + "[" + std::to_string(seen) + "]", &n);
      }
      seen = static_cast<int>(i);
    }
    e.buckets.clear();
    for (std::size_t k = 0; k < seen_at.size(); ++k) {
      if (seen_at[k] >= 0) e.buckets.push_back(bucket_names[k].second);  // canonical order
    }
  }

  if (const auto v = r.choice("fit_on", fit_source_names)) e.fit_on = *v;
  e.refit_interval_ms = std::chrono::milliseconds(
      r.integer("refit_interval_ms", 100, 0, 60'000, "milliseconds between 0 and 60000"));
  e.stale_quote_s = std::chrono::seconds(
      r.integer("stale_quote_s", 300, 1, 86'400, "seconds between 1 and 86400"));
  e.data_timeout_s = std::chrono::seconds(
      r.integer("data_timeout_s", 60, 0, 86'400, "seconds between 0 (no check) and 86400"));
  e.min_expiry_hours =
      hours_f(r.number("min_expiry_hours", 1.0, 0.0, 720.0, "hours between 0 and 720 (a number)"));
  e.min_quotes_per_expiry =
      static_cast<int>(r.integer("min_quotes_per_expiry", 5, 5, 10'000,
                                 "at least 5 quotes (an SVI fit has 5 parameters), at most 10000"));
  e.max_refits_per_publish = static_cast<int>(
      r.integer("max_refits_per_publish", 1, 1, 64, "smile fits per published batch, 1..64"));
  e.reject_outliers = r.boolean("reject_outliers", true);
  e.max_extrapolation_ratio = r.number("max_extrapolation_ratio", 2.0, 1.0, 1'000.0,
                                       "a factor between 1 and 1000 (a number)");
  if (const toml::node* n = r.find("ring_capacity")) {
    const std::int64_t v = r.integer("ring_capacity", 65'536, 1'024, 16'777'216,
                                     "a power of two between 1024 and 16777216");
    if ((v & (v - 1)) != 0) {
      fail_value(r.at(), r.key_path("ring_capacity"), std::to_string(v),
                 "a power of two between 1024 and 16777216", n);
    }
    e.ring_capacity = to_size(v);
  }
  if (const auto v = r.choice("thread", thread_names)) e.thread = *v;
  if (const auto v = r.choice("wait", wait_names)) e.wait = *v;
  e.spin_us = std::chrono::microseconds(
      r.integer("spin_us", 50, 0, 10'000, "microseconds between 0 and 10000"));
}

// "Ns", "Nm" or "Nh" with N a positive integer, dividing one day.
void read_bar(const table_reader& r, forecast_section& f) {
  const auto text = r.string("bar");
  if (!text) return;
  constexpr std::string_view allowed =
      "a duration Ns, Nm or Nh with N a positive integer, dividing one day, e.g. 1h, 15m, 30s";
  const std::string path = r.key_path("bar");
  const toml::node* node = r.find("bar");
  const std::string& s = *text;
  if (s.size() < 2 || s.size() > 7) fail_value(r.at(), path, quote(s), allowed, node);
  std::int64_t unit_s = 0;
  switch (s.back()) {
    case 's':
      unit_s = 1;
      break;
    case 'm':
      unit_s = 60;
      break;
    case 'h':
      unit_s = 3'600;
      break;
    default:
      fail_value(r.at(), path, quote(s), allowed, node);
  }
  std::int64_t n = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') fail_value(r.at(), path, quote(s), allowed, node);
    n = n * 10 + (s[i] - '0');
  }
  const std::int64_t seconds = n * unit_s;
  if (n <= 0 || seconds > 86'400 || 86'400 % seconds != 0) {
    fail_value(r.at(), path, quote(s), allowed, node);
  }
  f.bar = std::chrono::seconds(seconds);
}

void read_forecast(const table_reader& root, forecast_section& f) {
  const table_reader r(root.at(), root.table("forecast"), "forecast",
                       {"bar", "model", "garch", "dist", "mean", "window", "refit_every",
                        "min_points", "history_days", "background_refit"});
  read_bar(r, f);
  if (const auto v = r.choice("model", model_names)) f.model = *v;
  const auto garch = r.choice("garch", garch_names);
  if (f.model == forecast_model::har) {
    f.garch = garch.value_or(garch_model::gjr);
  } else {
    const garch_model same = f.model == forecast_model::garch    ? garch_model::garch
                             : f.model == forecast_model::egarch ? garch_model::egarch
                                                                 : garch_model::gjr;
    if (garch && *garch != same) {
      fail_value(r.at(), r.key_path("garch"), quote(to_string(*garch)),
                 "must be absent or equal forecast.model = \"" + std::string(to_string(f.model)) +
                     "\"; it chooses the GARCH-family model only when model = \"har\"",
                 r.find("garch"));
    }
    f.garch = same;
  }
  if (const auto v = r.choice("dist", dist_names)) f.dist = *v;
  if (const auto v = r.choice("mean", mean_names)) f.mean = *v;
  f.window = to_size(r.integer("window", 17'520, 500, 1'000'000, "bars between 500 and 1000000"));
  f.refit_every = to_size(r.integer("refit_every", 24, 1, 1'000'000, "bars between 1 and 1000000"));
  // 50 = quant::garch_fit_min_points, the fewest returns a GARCH fit accepts.
  f.min_points =
      to_size(r.integer("min_points", 1'000, 50, 1'000'000, "returns between 50 and 1000000"));
  if (f.min_points > f.window) {
    fail_value(r.at(), r.key_path("min_points"), std::to_string(f.min_points),
               "at most forecast.window = " + std::to_string(f.window), r.find("min_points"));
  }
  f.history_days =
      static_cast<int>(r.integer("history_days", 120, 1, 3'650, "whole days between 1 and 3650"));
  const std::int64_t bars = std::int64_t{f.history_days} * (86'400 / f.bar.count());
  if (bars < static_cast<std::int64_t>(f.min_points) + 1) {
    fail_value(r.at(), r.key_path("history_days"), std::to_string(f.history_days),
               std::to_string(f.history_days) + " days of " + std::to_string(f.bar.count()) +
                   " s bars are " + std::to_string(bars) +
                   " bars, fewer than forecast.min_points + 1 = " +
                   std::to_string(f.min_points + 1) + " needed to fit at start",
               r.find("history_days"));
  }
  f.background_refit = r.boolean("background_refit", true);
}

void read_deribit(const table_reader& venues, deribit_section& d) {
  const table_reader r(venues.at(), venues.table("deribit"), "venues.deribit",
                       {"enabled", "url", "ca_file", "currencies", "ticker_interval", "heartbeat_s",
                        "connect_timeout_ms", "stale_after_ms", "backoff_initial_ms",
                        "backoff_max_ms", "subscribe_chunk", "max_frame_bytes"});
  d.enabled = r.boolean("enabled", true);
  if (const auto url = r.string("url"))
    check_url(r.at(), r.key_path("url"), *url, d, r.find("url"));
  if (auto ca = r.string("ca_file")) {
    check_existing_file(r, "ca_file", *ca,
                        "no such file; give an existing PEM file, or leave empty for the system "
                        "trust store");
    d.ca_file = std::move(*ca);
  }
  d.currencies = read_codes(r, "currencies", d.currencies, "currencies such as \"BTC\"");
  if (const auto v = r.choice("ticker_interval", interval_names)) d.ticker_interval = *v;
  d.heartbeat_s =
      std::chrono::seconds(r.integer("heartbeat_s", 10, 1, 3'600, "seconds between 1 and 3600"));
  d.connect_timeout_ms = std::chrono::milliseconds(
      r.integer("connect_timeout_ms", 5'000, 100, 120'000, "milliseconds between 100 and 120000"));
  d.stale_after_ms = std::chrono::milliseconds(r.integer("stale_after_ms", 15'000, 1'000, 7'200'000,
                                                         "milliseconds between 1000 and 7200000"));
  if (d.stale_after_ms <= d.heartbeat_s) {
    fail_value(r.at(), r.key_path("stale_after_ms"), std::to_string(d.stale_after_ms.count()),
               "more than venues.deribit.heartbeat_s = " + std::to_string(d.heartbeat_s.count()) +
                   " s: a quiet healthy connection only hears a heartbeat that often",
               r.find("stale_after_ms"));
  }
  d.backoff_initial_ms = std::chrono::milliseconds(
      r.integer("backoff_initial_ms", 250, 1, 60'000, "milliseconds between 1 and 60000"));
  d.backoff_max_ms = std::chrono::milliseconds(
      r.integer("backoff_max_ms", 30'000, 1, 600'000, "milliseconds between 1 and 600000"));
  if (d.backoff_max_ms < d.backoff_initial_ms) {
    fail_value(r.at(), r.key_path("backoff_max_ms"), std::to_string(d.backoff_max_ms.count()),
               "at least venues.deribit.backoff_initial_ms = " +
                   std::to_string(d.backoff_initial_ms.count()),
               r.find("backoff_max_ms"));
  }
  d.subscribe_chunk = to_size(
      r.integer("subscribe_chunk", 250, 1, 500, "channels per subscribe between 1 and 500"));
  d.max_frame_bytes = to_size(r.integer("max_frame_bytes", 1'048'576, 65'536, 67'108'864,
                                        "bytes between 65536 and 67108864"));
}

void read_venues(const table_reader& root, deribit_section& d) {
  const toml::table* venues = root.table("venues");
  if (venues != nullptr) {
    for (auto&& [k, v] : *venues) {
      if (k.str() != "deribit") {
        fail(root.at(), "venues." + std::string(k.str()),
             "venue not supported yet (supported: deribit)", &v);
      }
    }
  }
  const table_reader r(root.at(), venues, "venues", {"deribit"});
  read_deribit(r, d);
}

// Rules that span sections.
void cross_check(const origin& at, const config& c) {
  if (!c.deribit.enabled) return;
  for (std::size_t i = 0; i < c.engine.underlyings.size(); ++i) {
    const std::string& u = c.engine.underlyings[i];
    const auto& cur = c.deribit.currencies;
    if (std::find(cur.begin(), cur.end(), u) == cur.end()) {
      std::vector<std::string_view> names(cur.begin(), cur.end());
      fail_value(at, "engine.underlyings[" + std::to_string(i) + "]", quote(u),
                 "no enabled venue provides it; venues.deribit.currencies = " + join(names));
    }
  }
}

config parse_config(std::string_view text, std::string_view source_name) {
  const origin at{source_name};
  toml::table root_table;
  try {
    root_table = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto line = e.source().begin.line, column = e.source().begin.column;
    std::string message(source_name);
    message.append(":")
        .append(std::to_string(line))
        .append(":")
        .append(std::to_string(column))
        .append(": invalid TOML: ")
        .append(e.description());
    throw config_error(message, {}, line, column);
  }
  config c;
  c.source = std::string(source_name);
  const table_reader root(at, &root_table, "", {"service", "api", "engine", "forecast", "venues"});
  read_service(root, c.service);
  read_api(root, c.api);
  read_engine(root, c.engine);
  read_forecast(root, c.forecast);
  read_venues(root, c.deribit);
  cross_check(at, c);
  return c;
}

}  // namespace

config load_config_string(std::string_view toml, std::string_view source_name) {
  return parse_config(toml, source_name);
}

config load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw config_error(path + ": cannot open the config file: " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error(path + ": cannot read the config file");
  return parse_config(text.str(), path);
}

config apply_overrides(config c, const overrides& o) {
  const origin flags{};
  if (o.listen) check_listen(flags, "--listen", *o.listen, c.api, nullptr);
  if (o.deribit_url) check_url(flags, "--deribit-url", *o.deribit_url, c.deribit, nullptr);
  if (o.state_dir) {
    check_state_dir(flags, "--state-dir", *o.state_dir, nullptr);
    c.service.state_dir = *o.state_dir;
  }
  return c;
}

}  // namespace vrp::config
