#include "vrp/service/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace vrp::service {

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
  for (const char c : v) {
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
