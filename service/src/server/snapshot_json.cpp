#include "vrp/service/snapshot_json.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "vrp/service/premium_history.hpp"

namespace vrp::service {
namespace {

__extension__ typedef unsigned __int128 u128;  // GCC/Clang builtin; -Wpedantic would flag it

// 10^k, k = 0..22, exact in 128 bits (10^22 < 2^74).
constexpr auto pow10_u128 = [] {
  std::array<u128, 23> p{};
  p[0] = 1;
  for (std::size_t k = 1; k < p.size(); ++k) p[k] = p[k - 1] * 10;
  return p;
}();

constexpr char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Eight decimal digits of x < 10^8, zero-padded.
void write8(std::uint32_t x, char* d) {
  for (int i = 6; i >= 0; i -= 2) {
    const std::uint32_t pair = (x % 100) * 2;
    x /= 100;
    d[i] = digit_pairs[pair];
    d[i + 1] = digit_pairs[pair + 1];
  }
}

// Writes v like printf("%.17g", v) (17 significant digits, so every double round-trips) and
// returns the end. v must be finite. Fast path, exact: for 2^-16 <= |v| < 2^53 (every vol,
// price and rate this service prints), v = m 2^e with e <= 0, so round(v 10^k) is computed
// exactly in 128-bit integers (m < 2^53, 10^k < 2^74) with printf's round-half-even. Other
// magnitudes go to std::to_chars, which formats the same way but several times slower.
char* write_g17(double v, char* p) {
  constexpr std::uint64_t e17 = 100'000'000'000'000'000ULL;
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(v);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  const int e2 = biased - 1023;  // v = 1.f 2^e2
  if (e2 < -16 || e2 > 52) return std::to_chars(p, p + 32, v, std::chars_format::general, 17).ptr;
  const std::uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
  const int shift = 52 - e2;  // |v| = m / 2^shift, 0 <= shift <= 68
  // floor(e2 log10 2) by the usual fixed-point product; the true exponent is this or one more.
  int x10 = (e2 * 78913) >> 18;
  int k = 16 - x10;  // scale so that |v| 10^k has 17 digits before the point
  u128 prod = static_cast<u128>(m) * pow10_u128[k];
  if ((prod >> shift) >= e17) {
    ++x10;
    --k;
    prod = static_cast<u128>(m) * pow10_u128[k];
  }
  std::uint64_t q = static_cast<std::uint64_t>(prod >> shift);
  if (shift > 0) {
    const u128 rest = prod & ((static_cast<u128>(1) << shift) - 1);
    const u128 half = static_cast<u128>(1) << (shift - 1);
    if (rest > half || (rest == half && (q & 1) != 0)) ++q;
  }
  if (q == e17) {  // rounded up to the next power of ten
    q /= 10;
    ++x10;
  }
  // 17 digits as 1 + 8 + 8, in 32-bit arithmetic.
  char d[17];
  const auto lead = static_cast<std::uint32_t>(q / 10'000'000'000'000'000ULL);
  const auto rest16 = q % 10'000'000'000'000'000ULL;
  d[0] = static_cast<char>('0' + lead);
  write8(static_cast<std::uint32_t>(rest16 / 100'000'000), d + 1);
  write8(static_cast<std::uint32_t>(rest16 % 100'000'000), d + 9);
  int n = 17;  // significant digits left after removing trailing zeros
  while (n > 1 && d[n - 1] == '0') --n;

  if ((bits >> 63) != 0) *p++ = '-';
  if (x10 < -4) {  // %e style: d.ddde-XX (x10 >= 17 cannot happen below 2^53)
    *p++ = d[0];
    if (n > 1) {
      *p++ = '.';
      std::memcpy(p, d + 1, static_cast<std::size_t>(n - 1));
      p += n - 1;
    }
    *p++ = 'e';
    *p++ = '-';
    // Only x10 == -5 reaches here (|v| >= 2^-16); printf writes at least two exponent digits.
    *p++ = '0';
    *p++ = static_cast<char>('0' - x10);
    return p;
  }
  if (x10 < 0) {  // 0.000ddd
    *p++ = '0';
    *p++ = '.';
    for (int i = -1; i > x10; --i) *p++ = '0';
    std::memcpy(p, d, static_cast<std::size_t>(n));
    return p + n;
  }
  const int int_digits = x10 + 1;  // 1..16
  std::memcpy(p, d, static_cast<std::size_t>(int_digits));
  p += int_digits;
  if (n > int_digits) {
    *p++ = '.';
    std::memcpy(p, d + int_digits, static_cast<std::size_t>(n - int_digits));
    p += n - int_digits;
  }
  return p;
}

// Append-only JSON writer for the publish path. It writes through a raw pointer into spare room of
// the caller's buffer (std::string::append costs a size and capacity check per call, which was
// half of the render time) and formats numbers with write_g17, which gives the text of "%.17g"
// without snprintf's locale and varargs machinery. The buffer is trimmed to what was written when
// the writer goes out of scope. Keys are literals of this file and are written without escaping.
class out_json {
 public:
  explicit out_json(std::string& out) : out_(out) {
    const std::size_t used = out_.size();
    out_.resize(used + chunk);
    cur_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  ~out_json() { out_.resize(static_cast<std::size_t>(cur_ - out_.data())); }
  out_json(const out_json&) = delete;
  out_json& operator=(const out_json&) = delete;

  out_json& begin_object() { return open('{'); }
  out_json& end_object() { return close('}'); }
  out_json& begin_array() { return open('['); }
  out_json& end_array() { return close(']'); }
  out_json& open(char bracket) {
    room(2);
    separator();
    *cur_++ = bracket;
    comma_ = false;
    return *this;
  }
  out_json& close(char bracket) {
    room(1);
    *cur_++ = bracket;
    comma_ = true;
    return *this;
  }
  out_json& key(std::string_view k) {
    room(k.size() + 4);
    separator();
    *cur_++ = '"';
    copy(k);
    *cur_++ = '"';
    *cur_++ = ':';
    comma_ = false;
    return *this;
  }

  out_json& number(double v) {
    room(33);
    separator();
    if (std::isfinite(v))
      cur_ = write_g17(v, cur_);
    else
      copy("null");
    comma_ = true;
    return *this;
  }
  out_json& integer(std::int64_t v) {
    room(25);
    separator();
    cur_ = std::to_chars(cur_, end_, v).ptr;
    comma_ = true;
    return *this;
  }
  out_json& uinteger(std::uint64_t v) {
    room(25);
    separator();
    cur_ = std::to_chars(cur_, end_, v).ptr;
    comma_ = true;
    return *this;
  }
  out_json& boolean(bool v) {
    room(6);
    separator();
    copy(v ? std::string_view("true") : std::string_view("false"));
    comma_ = true;
    return *this;
  }
  out_json& null() {
    room(5);
    separator();
    copy("null");
    comma_ = true;
    return *this;
  }
  out_json& string(std::string_view s) {
    room(3 + 6 * s.size());  // every byte may become a six-byte escape
    separator();
    append_escaped(s);
    comma_ = true;
    return *this;
  }
  // A string, or null when empty ("no model yet").
  out_json& string_or_null(std::string_view s) { return s.empty() ? null() : string(s); }
  // Milliseconds of a nanosecond timestamp, or null for 0 ("never").
  out_json& ms_or_null(std::int64_t ts_ns) { return ts_ns == 0 ? null() : integer(to_ms(ts_ns)); }
  out_json& raw(std::string_view json) {
    room(json.size() + 1);
    separator();
    copy(json);
    comma_ = true;
    return *this;
  }

  // Floor division so that pre-1970 times do not round towards zero.
  static std::int64_t to_ms(std::int64_t ts_ns) {
    std::int64_t q = ts_ns / 1'000'000;
    if (ts_ns % 1'000'000 < 0) --q;
    return q;
  }

 private:
  static constexpr std::size_t chunk = 4096;

  // Makes room for n more bytes; growing the string geometrically keeps appends amortised O(1).
  void room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - cur_) >= n) return;
    const auto used = static_cast<std::size_t>(cur_ - out_.data());
    out_.resize(std::max(used + n + chunk, 2 * out_.size()));
    cur_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  void separator() {
    if (comma_) *cur_++ = ',';
  }
  void copy(std::string_view s) {
    std::memcpy(cur_, s.data(), s.size());
    cur_ += s.size();
  }

  // RFC 8259 §7 escaping. Bytes that are not well-formed UTF-8 (RFC 3629 §4) become U+FFFD so the
  // output is valid JSON whatever the input (error messages may quote client input).
  void append_escaped(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    *cur_++ = '"';
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* const end = p + s.size();
    while (p < end) {
      const unsigned char c = *p;
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        *cur_++ = static_cast<char>(c);
        ++p;
        continue;
      }
      if (c < 0x80) {
        switch (c) {
          case '"':
            copy("\\\"");
            break;
          case '\\':
            copy("\\\\");
            break;
          case '\n':
            copy("\\n");
            break;
          case '\r':
            copy("\\r");
            break;
          case '\t':
            copy("\\t");
            break;
          case '\b':
            copy("\\b");
            break;
          case '\f':
            copy("\\f");
            break;
          default: {
            const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            copy(std::string_view(u, 6));
          }
        }
        ++p;
        continue;
      }
      const std::size_t n = utf8_sequence_length(p, end);
      if (n == 0) {
        copy("\\ufffd");
        ++p;
      } else {
        std::memcpy(cur_, p, n);
        cur_ += n;
        p += n;
      }
    }
    *cur_++ = '"';
  }

  // Length of the well-formed UTF-8 sequence at p (Unicode Table 3-7), 0 when ill-formed.
  static std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) {
    const unsigned char c = p[0];
    const auto left = static_cast<std::size_t>(end - p);
    auto cont = [](unsigned char b) { return (b & 0xc0) == 0x80; };
    if (c >= 0xc2 && c <= 0xdf) return left >= 2 && cont(p[1]) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
      if (left < 3 || !cont(p[1]) || !cont(p[2])) return 0;
      if (c == 0xe0 && p[1] < 0xa0) return 0;   // overlong
      if (c == 0xed && p[1] >= 0xa0) return 0;  // surrogates
      return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
      if (left < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3])) return 0;
      if (c == 0xf0 && p[1] < 0x90) return 0;   // overlong
      if (c == 0xf4 && p[1] >= 0x90) return 0;  // above U+10FFFF
      return 4;
    }
    return 0;
  }

  std::string& out_;
  char* cur_ = nullptr;
  char* end_ = nullptr;
  bool comma_ = false;
};

constexpr std::string_view bucket_keys[engine::bucket_count] = {"10p", "25p", "atm", "25c", "10c"};

std::string_view right_name(core::option_right r) {
  switch (r) {
    case core::option_right::call:
      return "call";
    case core::option_right::put:
      return "put";
    case core::option_right::none:
      break;
  }
  return {};
}

void write_premium(out_json& w, const engine::underlying_snapshot& u) {
  w.begin_object();
  w.key("underlying").string(u.underlying);
  w.key("seq").uinteger(u.seq);
  w.key("ts").integer(out_json::to_ms(u.ts_ns));
  w.key("ts_ns").integer(u.ts_ns);
  w.key("complete").boolean(u.complete);
  w.key("index_price").number(u.index_price);
  w.key("dvol").number(u.dvol);
  w.key("model");
  if (u.forecast)
    w.string_or_null(u.forecast->model);
  else
    w.null();
  w.key("funding_annual").number(u.funding_annual);
  w.key("perp_basis").number(u.perp_basis);
  w.key("recv_ns").integer(u.recv_ns);
  w.key("data_recv_ns").integer(u.data_recv_ns);
  w.key("stale").boolean(u.stale);
  w.key("tenors").begin_array();
  for (const auto& row : u.tenors) {
    w.begin_object();
    w.key("days").integer(row.days);
    w.key("t").number(row.t_years);
    w.key("available").boolean(row.available);
    if (!row.available) w.key("reason").string(row.reason);
    w.key("extrapolated").boolean(row.extrapolated);
    w.key("forward").number(row.forward);
    w.key("basis_annual").number(row.basis_annual);
    w.key("atm_iv").number(row.atm_iv);
    w.key("mfiv").number(row.mfiv);
    w.key("rv_forecast").number(row.rv_forecast);
    w.key("premium_vol").number(row.premium_vol);
    w.key("premium_var").number(row.premium_var);
    w.key("rr25").number(row.rr25);
    w.key("bf25").number(row.bf25);
    w.key("buckets").begin_object();
    for (std::size_t b = 0; b < engine::bucket_count; ++b) {
      const auto& cell = row.buckets[b];
      w.key(bucket_keys[b]).begin_object();
      w.key("iv").number(cell.iv);
      w.key("premium_vol").number(cell.premium_vol);
      w.key("strike").number(cell.strike);
      w.key("width_vol").number(cell.width_vol);
      w.end_object();
    }
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void write_term(out_json& w, std::string_view name, const std::vector<engine::forecast_point>& t) {
  w.key(name).begin_array();
  for (const auto& p : t) {
    w.begin_object();
    w.key("days").integer(p.days);
    w.key("vol").number(p.vol);
    w.end_object();
  }
  w.end_array();
}

}  // namespace

void render_premium(const engine::underlying_snapshot& u, std::string& out) {
  out_json w(out);
  write_premium(w, u);
}

void render_stream_frame(std::string_view channel, const engine::underlying_snapshot& u,
                         std::string& out) {
  out_json w(out);
  w.begin_object();
  w.key("channel").string(channel);
  w.key("seq").uinteger(u.seq);
  w.key("ts").integer(out_json::to_ms(u.ts_ns));
  w.key("data");
  write_premium(w, u);
  w.end_object();
}

void render_surface(const engine::underlying_snapshot& u, std::string& out) {
  out_json w(out);
  w.begin_object();
  w.key("underlying").string(u.underlying);
  w.key("ts").integer(out_json::to_ms(u.ts_ns));
  w.key("expiries").begin_array();
  for (const auto& e : u.expiries) {
    if (!e) continue;
    w.begin_object();
    w.key("expiry").string(e->label);
    w.key("expiry_ms").integer(e->expiry_ms);
    w.key("t").number(e->t_years);
    w.key("forward").number(e->forward);
    w.key("forward_source").string(engine::to_string(e->forward_from));
    w.key("fitted").boolean(e->fitted);
    w.key("fit_status").string(quant::to_string(e->fit_status));
    w.key("svi");
    if (e->fitted) {
      w.begin_object();
      w.key("a").number(e->svi.a);
      w.key("b").number(e->svi.b);
      w.key("rho").number(e->svi.rho);
      w.key("m").number(e->svi.m);
      w.key("sigma").number(e->svi.sigma);
      w.end_object();
    } else {
      w.null();
    }
    w.key("rmse_vol").number(e->rmse_vol);
    w.key("butterfly_free").boolean(e->butterfly_free);
    w.key("calendar_free").boolean(e->calendar_free);
    w.key("points_used").integer(e->points_used);
    w.key("points_rejected").integer(e->points_rejected);
    w.key("mfiv").number(e->mfiv);
    w.key("quotes").begin_array();
    for (const auto& q : e->quotes) {
      w.begin_object();
      w.key("strike").number(q.strike);
      w.key("type").string_or_null(right_name(q.right));
      w.key("bid_iv").number(q.bid_iv);
      w.key("ask_iv").number(q.ask_iv);
      w.key("mark_iv").number(q.mark_iv);
      w.key("venue_mark_iv").number(q.venue_mark_iv);
      w.key("status").string(engine::to_string(q.status));
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void render_forecast(const engine::underlying_snapshot& u, std::string& out) {
  out_json w(out);
  w.begin_object();
  w.key("underlying").string(u.underlying);
  w.key("ts").integer(out_json::to_ms(u.ts_ns));
  const engine::forecast_view* f = u.forecast.get();
  if (f == nullptr) {
    // Same keys as below so that clients need no second shape.
    w.key("model").null();
    w.key("ready").boolean(false);
    w.raw(
        "\"spec\":null,\"params\":null,\"persistence\":null,\"long_run_vol\":null,"
        "\"conditional_vol\":null,\"realized_vol_24h\":null,\"har\":null,\"bar_seconds\":null,"
        "\"bars\":0,\"last_bar_close\":null,\"last_refit\":null,\"refits\":0,\"term\":[],"
        "\"garch_term\":[],\"har_term\":[]");
    w.end_object();
    return;
  }
  w.key("model").string_or_null(f->model);
  w.key("ready").boolean(f->ready);
  w.key("spec").begin_object();
  w.key("model").string(quant::to_string(f->spec.model));
  w.key("dist").string(quant::to_string(f->spec.dist));
  w.key("mean").string(quant::to_string(f->spec.mean));
  w.end_object();
  w.key("params").begin_object();
  w.key("mu").number(f->params.mu);
  w.key("omega").number(f->params.omega);
  w.key("alpha").number(f->params.alpha);
  w.key("gamma").number(f->params.gamma);
  w.key("beta").number(f->params.beta);
  w.key("nu").number(f->params.nu);
  w.end_object();
  w.key("persistence").number(f->persistence);
  w.key("long_run_vol").number(f->long_run_vol);
  w.key("conditional_vol").number(f->conditional_vol);
  w.key("realized_vol_24h").number(f->realized_vol_24h);
  w.key("har").begin_object();
  w.key("ready").boolean(f->har_ready);
  w.key("beta0").number(f->har_beta0);
  w.key("beta_d").number(f->har_beta_d);
  w.key("beta_w").number(f->har_beta_w);
  w.key("beta_m").number(f->har_beta_m);
  w.end_object();
  w.key("bar_seconds");
  if (f->bar_ns > 0)
    w.number(static_cast<double>(f->bar_ns) * 1e-9);
  else
    w.null();
  w.key("bars").uinteger(f->bars);
  w.key("last_bar_close").ms_or_null(f->last_bar_close_ns);
  w.key("last_refit").ms_or_null(f->last_refit_ns);
  w.key("refits").uinteger(f->refits);
  write_term(w, "term", f->term);
  write_term(w, "garch_term", f->garch_term);
  write_term(w, "har_term", f->har_term);
  w.end_object();
}

void render_error(std::string_view code, std::string_view message, std::string& out) {
  out_json w(out);
  w.begin_object();
  w.key("error").begin_object();
  w.key("code").string(code);
  w.key("message").string(message);
  w.end_object();
  w.end_object();
}

void render_history(std::string_view underlying, int tenor_days,
                    std::span<const history_point> points, std::string& out) {
  out_json w(out);
  w.begin_object();
  w.key("underlying").string(underlying);
  w.key("tenor").integer(tenor_days);
  w.key("points").begin_array();
  for (const auto& p : points) {
    w.begin_object();
    w.key("ts").integer(p.ts_ms);
    w.key("atm_iv").number(p.atm_iv);
    w.key("mfiv").number(p.mfiv);
    w.key("rv_forecast").number(p.rv_forecast);
    w.key("premium_vol").number(p.premium_vol);
    w.key("premium_var").number(p.premium_var);
    w.key("rr25").number(p.rr25);
    w.key("bf25").number(p.bf25);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

}  // namespace vrp::service
