#include "vrp/core/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <variant>

namespace vrp::core {

namespace {

constexpr int type_counter = 0;
constexpr int type_gauge = 1;
constexpr int type_histogram = 2;

const char* type_name(int type) {
  switch (type) {
    case type_counter:
      return "counter";
    case type_gauge:
      return "gauge";
    default:
      return "histogram";
  }
}

bool is_alpha_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// nullptr when the bounds are usable: ascending (strictly, so no empty bucket is ambiguous) and
// finite (+Inf is always added as the last bucket).
const char* bounds_problem(const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return "histogram bounds must be finite";
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return "histogram bounds must be ascending";
  }
  return nullptr;
}

[[noreturn]] void fail(std::string_view name, std::string_view problem) {
  std::string msg = "metric '";
  msg.append(name);
  msg += "': ";
  msg.append(problem);
  throw std::invalid_argument(msg);
}

void append_escaped_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_escaped_help(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// `a="x",b="y"` in the given order (the exposition keeps the caller's order).
std::string render_labels(const metric_labels& labels) {
  std::string out;
  for (const auto& l : labels) {
    if (!out.empty()) out += ',';
    out += l.name;
    out += "=\"";
    append_escaped_label_value(out, l.value);
    out += '"';
  }
  return out;
}

// Order-independent identity of a label set: {a,b} and {b,a} are the same series.
std::string canonical_labels(metric_labels labels) {
  std::sort(labels.begin(), labels.end(),
            [](const metric_label& x, const metric_label& y) { return x.name < y.name; });
  return render_labels(labels);
}

using series_source = std::variant<std::unique_ptr<metric_counter>, std::unique_ptr<metric_gauge>,
                                   std::unique_ptr<metric_histogram>, std::function<double()>>;

struct series {
  std::string labels;           // rendered, empty when the series has no label
  std::vector<std::string> le;  // histogram only: rendered `le="..."` per bound, then +Inf
  series_source source;
};

}  // namespace

struct metrics_registry::family {
  std::string name;
  std::string help;
  int type = type_counter;
  std::vector<std::string> label_keys;  // canonical label sets, for the duplicate check
  std::vector<series> samples;
};

// ---------------------------------------------------------------------------------------------

metric_histogram::metric_histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)) {
  if (const char* problem = bounds_problem(bounds_)) throw std::invalid_argument(problem);
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void metric_histogram::observe(double v) noexcept {
  // Bucket i counts bound[i-1] < v <= bound[i] (`le` semantics); NaN compares false with every
  // bound and lands in +Inf, as in the Go client.
  const auto it =
      std::partition_point(bounds_.begin(), bounds_.end(), [v](double b) { return !(v <= b); });
  auto& bucket = counts_[static_cast<std::size_t>(it - bounds_.begin())];
  bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sum_.store(sum_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  if (!(start > 0.0) || !std::isfinite(start)) {
    throw std::invalid_argument("exponential_buckets: start must be positive and finite");
  }
  if (!(factor > 1.0) || !std::isfinite(factor)) {
    throw std::invalid_argument("exponential_buckets: factor must be > 1 and finite");
  }
  if (count < 1) throw std::invalid_argument("exponential_buckets: count must be >= 1");
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(count));
  double bound = start;
  for (int i = 0; i < count; ++i) {
    // Rounded to 15 significant digits so that 1e-6 * 10 gives le="1e-05", not the
    // 9.999999999999999e-06 client_golang prints: `le` values are part of series identity and
    // people type them in queries.
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, bound, std::chars_format::general, 15);
    double rounded = bound;
    std::from_chars(buf, res.ptr, rounded);
    if (!out.empty() && !(out.back() < rounded)) {
      throw std::invalid_argument("exponential_buckets: factor too close to 1");
    }
    out.push_back(rounded);
    bound *= factor;
  }
  return out;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  if (!is_alpha_or_underscore(name[0]) && name[0] != ':') return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return is_alpha_or_underscore(c) || is_digit(c) || c == ':'; });
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || !is_alpha_or_underscore(name[0])) return false;
  if (name.substr(0, 2) == "__") return false;  // reserved for Prometheus' internal labels
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return is_alpha_or_underscore(c) || is_digit(c); });
}

void append_metric_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  // Go's strconv.FormatFloat(v, 'g', -1, 64): shortest round-trip digits, %e form when the
  // decimal exponent is < -4 or >= 6 (the precision 'g' uses for shortest), %f form otherwise.
  // to_chars' scientific form already matches Go's %e (at least two exponent digits).
  char sci[40];
  const auto res = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  const std::string_view s(sci, static_cast<std::size_t>(res.ptr - sci));
  const std::size_t e_pos = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + e_pos + 2, s.data() + s.size(), exp);
  if (s[e_pos + 1] == '-') exp = -exp;
  if (exp < -4 || exp >= 6) {
    out.append(s);
    return;
  }
  const bool negative = s[0] == '-';
  char digits[24];
  std::size_t n_digits = 0;
  for (std::size_t i = negative ? 1 : 0; i < e_pos; ++i) {
    if (s[i] != '.') digits[n_digits++] = s[i];
  }
  if (negative) out += '-';
  if (exp >= 0) {
    const auto int_len = static_cast<std::size_t>(exp) + 1;
    if (n_digits <= int_len) {
      out.append(digits, n_digits);
      out.append(int_len - n_digits, '0');
    } else {
      out.append(digits, int_len);
      out += '.';
      out.append(digits + int_len, n_digits - int_len);
    }
  } else {
    out += "0.";
    out.append(static_cast<std::size_t>(-exp - 1), '0');
    out.append(digits, n_digits);
  }
}

// ---------------------------------------------------------------------------------------------

metrics_registry::metrics_registry() = default;
metrics_registry::~metrics_registry() = default;

metrics_registry::family& metrics_registry::family_for(std::string_view name, std::string_view help,
                                                       int type, const metric_labels& labels) {
  if (!valid_metric_name(name)) fail(name, "invalid metric name");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& label = labels[i].name;
    if (!valid_label_name(label)) fail(name, "invalid label name '" + label + "'");
    if (type == type_histogram && label == "le") {
      fail(name, "label 'le' is reserved for histogram buckets");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].name == label) fail(name, "label '" + label + "' given twice");
    }
  }

  family* found = nullptr;
  for (auto& f : families_) {
    if (f->name == name) {
      found = f.get();
      break;
    }
  }
  if (found != nullptr) {
    if (found->type != type) {
      fail(name, std::string("registered as ") + type_name(type) + " but already a " +
                     type_name(found->type));
    }
    if (found->help != help) fail(name, "registered again with a different help text");
    const std::string key = canonical_labels(labels);
    if (std::find(found->label_keys.begin(), found->label_keys.end(), key) !=
        found->label_keys.end()) {
      fail(name, "duplicate label set {" + key + "}");
    }
    return *found;
  }

  // A histogram `h` also writes `h_bucket`, `h_sum` and `h_count`; no other family may use them.
  const auto clashes = [](std::string_view hist, std::string_view other) {
    if (other.substr(0, hist.size()) != hist) return false;
    const auto suffix = other.substr(hist.size());
    return suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
  };
  for (const auto& f : families_) {
    if (type == type_histogram && clashes(name, f->name)) {
      fail(name, "histogram series would clash with family '" + f->name + "'");
    }
    if (f->type == type_histogram && clashes(f->name, name)) {
      fail(name, "clashes with a series of histogram '" + f->name + "'");
    }
  }

  auto f = std::make_unique<family>();
  f->name = name;
  f->help = help;
  f->type = type;
  families_.push_back(std::move(f));
  return *families_.back();
}

namespace {

template <class T>
T& add_series(std::vector<std::string>& keys, std::vector<series>& samples,
              const metric_labels& labels, std::unique_ptr<T> metric,
              std::vector<std::string> le = {}) {
  T& ref = *metric;
  keys.push_back(canonical_labels(labels));
  samples.push_back(series{render_labels(labels), std::move(le), std::move(metric)});
  return ref;
}

}  // namespace

metric_counter& metrics_registry::counter(std::string_view name, std::string_view help,
                                          metric_labels labels) {
  std::lock_guard lock(mutex_);
  family& f = family_for(name, help, type_counter, labels);
  return add_series(f.label_keys, f.samples, labels, std::make_unique<metric_counter>());
}

metric_gauge& metrics_registry::gauge(std::string_view name, std::string_view help,
                                      metric_labels labels) {
  std::lock_guard lock(mutex_);
  family& f = family_for(name, help, type_gauge, labels);
  return add_series(f.label_keys, f.samples, labels, std::make_unique<metric_gauge>());
}

metric_histogram& metrics_registry::histogram(std::string_view name, std::string_view help,
                                              std::vector<double> upper_bounds,
                                              metric_labels labels) {
  // Checked before family_for so that a failed registration leaves no empty family behind.
  if (const char* problem = bounds_problem(upper_bounds)) fail(name, problem);
  std::vector<std::string> le;
  le.reserve(upper_bounds.size() + 1);
  for (double b : upper_bounds) {
    std::string s = "le=\"";
    append_metric_value(s, b);
    s += '"';
    le.push_back(std::move(s));
  }
  le.emplace_back("le=\"+Inf\"");
  auto metric = std::make_unique<metric_histogram>(std::move(upper_bounds));

  std::lock_guard lock(mutex_);
  family& f = family_for(name, help, type_histogram, labels);
  return add_series(f.label_keys, f.samples, labels, std::move(metric), std::move(le));
}

void metrics_registry::gauge_callback(std::string_view name, std::string_view help,
                                      metric_labels labels, std::function<double()> read) {
  if (!read) fail(name, "empty callback");
  std::lock_guard lock(mutex_);
  family& f = family_for(name, help, type_gauge, labels);
  f.label_keys.push_back(canonical_labels(labels));
  f.samples.push_back(series{render_labels(labels), {}, std::move(read)});
}

void metrics_registry::counter_callback(std::string_view name, std::string_view help,
                                        metric_labels labels, std::function<double()> read) {
  if (!read) fail(name, "empty callback");
  std::lock_guard lock(mutex_);
  family& f = family_for(name, help, type_counter, labels);
  f.label_keys.push_back(canonical_labels(labels));
  f.samples.push_back(series{render_labels(labels), {}, std::move(read)});
}

// ---------------------------------------------------------------------------------------------

namespace {

// `name[suffix][{labels[,extra]}] `
void append_head(std::string& out, std::string_view name, std::string_view suffix,
                 const std::string& labels, std::string_view extra = {}) {
  out.append(name);
  out.append(suffix);
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) out += ',';
    out.append(extra);
    out += '}';
  }
  out += ' ';
}

void append_histogram(std::string& out, std::string_view name, const series& s,
                      const metric_histogram& h) {
  // _count is the sum of the buckets read here, so it always equals the +Inf bucket even when
  // the writer is mid-observation.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.le.size(); ++i) {
    cumulative += h.bucket_count(i);
    append_head(out, name, "_bucket", s.labels, s.le[i]);
    append_uint(out, cumulative);
    out += '\n';
  }
  append_head(out, name, "_sum", s.labels);
  append_metric_value(out, h.sum());
  out += '\n';
  append_head(out, name, "_count", s.labels);
  append_uint(out, cumulative);
  out += '\n';
}

}  // namespace

std::string metrics_registry::expose() const {
  std::string out;
  expose(out);
  return out;
}

void metrics_registry::expose(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& f : families_) {
    // An empty help would only produce "# HELP name " which promtool flags anyway.
    if (!f->help.empty()) {
      out += "# HELP ";
      out += f->name;
      out += ' ';
      append_escaped_help(out, f->help);
      out += '\n';
    }
    out += "# TYPE ";
    out += f->name;
    out += ' ';
    out += type_name(f->type);
    out += '\n';
    for (const auto& s : f->samples) {
      if (const auto* c = std::get_if<std::unique_ptr<metric_counter>>(&s.source)) {
        append_head(out, f->name, {}, s.labels);
        append_uint(out, (*c)->value());
      } else if (const auto* g = std::get_if<std::unique_ptr<metric_gauge>>(&s.source)) {
        append_head(out, f->name, {}, s.labels);
        append_metric_value(out, (*g)->value());
      } else if (const auto* h = std::get_if<std::unique_ptr<metric_histogram>>(&s.source)) {
        append_histogram(out, f->name, s, **h);
        continue;
      } else {
        append_head(out, f->name, {}, s.labels);
        append_metric_value(out, std::get<std::function<double()>>(s.source)());
      }
      out += '\n';
    }
  }
}

}  // namespace vrp::core
