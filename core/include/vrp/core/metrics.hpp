#pragma once

// Our own metrics registry and Prometheus text exposition (format 0.0.4): prometheus-cpp has no
// Debian package. Metrics are registered at startup (any thread, under the registry's mutex);
// after that each counter, gauge and histogram has ONE writer thread that updates it with relaxed
// atomic loads and stores (no read-modify-write, no lock), and the scrape thread reads them.
// Callback metrics are evaluated on the scrape thread and must only read thread-safe state.
//
// Exposition rules (https://prometheus.io/docs/instrumenting/exposition_formats/): one
// `# HELP` and one `# TYPE` line per family, samples of a family together, label values escaped
// (\\, \", \n), HELP escaped (\\, \n), numbers as Go's strconv.FormatFloat('g', -1) would print
// them with +Inf/-Inf/NaN, histogram buckets cumulative with `le`, ending in `le="+Inf"`, then
// `_sum` and `_count`.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vrp::core {

struct metric_label {
  std::string name;
  std::string value;
};
using metric_labels = std::vector<metric_label>;

// Monotonic counter. Single writer.
class metric_counter {
 public:
  void inc(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // For counters mirrored from another component's own totals (e.g. a feed's stats copied on
  // its thread); the caller keeps it monotonic.
  void set(std::uint64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Gauge. Single writer.
class metric_gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Histogram with fixed upper bounds (ascending, finite; +Inf is implicit). Single writer; a
// scrape may see a count and a sum that are one observation apart, which Prometheus tolerates.
class metric_histogram {
 public:
  explicit metric_histogram(std::vector<double> upper_bounds);
  void observe(double v) noexcept;

  const std::vector<double>& upper_bounds() const noexcept { return bounds_; }
  // Non-cumulative count of bucket i (i == upper_bounds().size() is the +Inf bucket).
  std::uint64_t bucket_count(std::size_t i) const noexcept {
    return counts_[i].load(std::memory_order_relaxed);
  }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Exponential bucket bounds: start, start*factor, ... (count values).
std::vector<double> exponential_buckets(double start, double factor, int count);

// True for a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) / label name ([a-zA-Z_][a-zA-Z0-9_]*,
// not starting with "__").
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

// Appends `v` formatted for the exposition (e.g. 1, 0.25, 1e-06, +Inf, NaN).
void append_metric_value(std::string& out, double v);

class metrics_registry {
 public:
  metrics_registry();
  ~metrics_registry();
  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  // Registration. The same name may be registered again with other label values (one family);
  // the type and help of a family must then match. Throws std::invalid_argument for an invalid
  // metric or label name, a duplicate label set, a type clash, a reserved label (`le` on a
  // histogram) or histogram bounds that are not ascending and finite. References stay valid for
  // the registry's lifetime.
  metric_counter& counter(std::string_view name, std::string_view help, metric_labels labels = {});
  metric_gauge& gauge(std::string_view name, std::string_view help, metric_labels labels = {});
  metric_histogram& histogram(std::string_view name, std::string_view help,
                              std::vector<double> upper_bounds, metric_labels labels = {});
  // Evaluated at each scrape on the scrape thread.
  void gauge_callback(std::string_view name, std::string_view help, metric_labels labels,
                      std::function<double()> read);
  void counter_callback(std::string_view name, std::string_view help, metric_labels labels,
                        std::function<double()> read);

  // The whole exposition, families in registration order, samples in registration order.
  std::string expose() const;
  void expose(std::string& out) const;  // appends

 private:
  struct family;
  family& family_for(std::string_view name, std::string_view help, int type,
                     const metric_labels& labels);
  mutable std::mutex mutex_;  // registration and scrape only; never taken by a writer
  std::vector<std::unique_ptr<family>> families_;
};

}  // namespace vrp::core
