#include "vrp/service/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace vrp::service {

namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong forms, no
// surrogates, at most U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void json_writer::separator() {
  if (need_comma_) out_.push_back(',');
}

json_writer& json_writer::begin_object() {
  separator();
  out_.push_back('{');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::end_object() {
  out_.push_back('}');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::key(std::string_view k) {
  value(k);
  out_.push_back(':');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::value(double v) {
  separator();
  if (!std::isfinite(v)) {
    out_ += "null";
  } else {
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
    out_.append(buf, static_cast<std::size_t>(n));
  }
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(long long v) {
  separator();
  out_ += std::to_string(v);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(bool v) {
  separator();
  out_ += v ? "true" : "false";
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(std::string_view v) {
  separator();
  out_.push_back('"');
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // JSON text is UTF-8: a valid sequence is copied, any other byte becomes U+FFFD (input
      // echoed in messages, e.g. a parser error quoting the bytes it choked on, can be binary).
      const std::size_t n = utf8_sequence_length(v.substr(i));
      if (n == 0) {
        out_ += "\\ufffd";
      } else {
        out_.append(v.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out_ += buf;
        } else {
          out_.push_back(c);
        }
    }
  }
  out_.push_back('"');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::null() {
  separator();
  out_ += "null";
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::array(std::span<const double> xs) {
  separator();
  out_.push_back('[');
  need_comma_ = false;
  for (const double x : xs) value(x);
  out_.push_back(']');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  separator();
  out_ += json;
  need_comma_ = true;
  return *this;
}

}  // namespace vrp::service
