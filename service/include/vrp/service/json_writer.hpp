#pragma once

#include <span>
#include <string>
#include <string_view>

namespace vrp::service {

// Minimal JSON object writer for replies: numbers with 17 significant digits (ARCHITECTURE.md
// §5.1), non-finite numbers as null, strings escaped. Keys are written in call order.
class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& key(std::string_view k);
  json_writer& value(double v);
  json_writer& value(long long v);
  json_writer& value(int v) { return value(static_cast<long long>(v)); }
  json_writer& value(bool v);
  json_writer& value(std::string_view v);
  json_writer& value(const char* v) { return value(std::string_view(v)); }
  json_writer& null();
  json_writer& array(std::span<const double> xs);
  // Pastes an already serialised JSON value.
  json_writer& raw(std::string_view json);

  template <class T>
  json_writer& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }

 private:
  void separator();
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace vrp::service
