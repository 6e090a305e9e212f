#include "vrp/service/api_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "server/server_state.hpp"
#include "vrp/feeds/tls_server.hpp"
#include "vrp/service/snapshot_json.hpp"

namespace vrp::service {

namespace {

constexpr std::array<std::string_view, endpoint_count> endpoint_names = {
    "healthz", "readyz", "metrics", "premium", "surface", "forecast", "history", "stream", "other"};
constexpr std::array<std::string_view, code_class_count> code_classes = {"1xx", "2xx", "3xx", "4xx",
                                                                         "5xx"};
constexpr std::array<std::string_view, channel_kinds> channel_prefixes = {"premium.", "surface.",
                                                                          "forecast."};

server_metrics register_metrics(core::metrics_registry& r) {
  server_metrics m;
  for (std::size_t e = 0; e < endpoint_count; ++e) {
    for (std::size_t c = 0; c < code_class_count; ++c) {
      // Only the classes an endpoint can answer, so the exposition stays short: 101 on the
      // stream upgrade, no 3xx anywhere.
      const bool used = c == 1 || c == 3 || c == 4 || (c == 0 && e == 7);
      if (!used) continue;
      m.http[e][c] = &r.counter(
          "vrp_http_requests_total", "HTTP requests answered, by endpoint and status class",
          {{"endpoint", std::string(endpoint_names[e])}, {"code", std::string(code_classes[c])}});
    }
  }
  m.connections_open = &r.gauge("vrp_http_connections", "Open HTTP and WebSocket connections");
  m.ws_sessions = &r.gauge("vrp_ws_sessions", "Open WebSocket sessions");
  m.ws_subscribers =
      &r.gauge("vrp_ws_subscribers", "WebSocket sessions with at least one subscription");
  m.ws_frames_sent = &r.counter("vrp_ws_frames_sent_total", "Stream frames written to clients");
  m.ws_conflated = &r.counter("vrp_ws_conflated_total",
                              "Stream frames replaced in a full subscriber queue by a newer one");
  m.ws_slow_disconnects = &r.counter("vrp_ws_slow_consumer_disconnects_total",
                                     "Subscribers disconnected for reading too slowly");
  m.ws_client_errors =
      &r.counter("vrp_ws_client_errors_total", "Error replies to WebSocket client messages");
  m.connections_refused = &r.counter("vrp_http_connections_refused_total",
                                     "Connections refused at the connection limits");
  m.tls_handshake_failures =
      &r.counter("vrp_http_tls_handshake_failures_total",
                 "Connections closed because their TLS handshake failed or timed out");
  m.fanouts = &r.counter("vrp_publish_updates_total",
                         "Underlying snapshot updates fanned out to subscribers");
  // 5 us .. about 2.6 s: loopback delivery up to a stalled engine.
  m.tick_to_publish = &r.histogram(
      "vrp_tick_to_publish_seconds",
      "Local receive time of the newest event in a snapshot to the end of a frame write",
      core::exponential_buckets(5e-6, 2.0, 20));
  return m;
}

// {"channel","seq","ts","data"}: render_stream_frame carries the premium; the other channels get
// the same envelope around their endpoint's body.
void render_channel_frame(channel_kind kind, std::string_view channel,
                          const engine::underlying_snapshot& u, std::string& out) {
  if (kind == channel_kind::premium) return render_stream_frame(channel, u, out);
  std::int64_t ts_ms = u.ts_ns / 1'000'000;
  if (u.ts_ns % 1'000'000 < 0) --ts_ms;  // floor, like every other ms stamp
  out += R"({"channel":")";
  out += channel;  // our own name: no escaping needed
  out += R"(","seq":)";
  out += std::to_string(u.seq);
  out += R"(,"ts":)";
  out += std::to_string(ts_ms);
  out += R"(,"data":)";
  if (kind == channel_kind::surface) {
    render_surface(u, out);
  } else {
    render_forecast(u, out);
  }
  out += '}';
}

}  // namespace

server_state::server_state(asio::io_context& io_, api_server_config cfg_,
                           core::metrics_registry& registry_, premium_history& history_)
    : io(io_),
      cfg(std::move(cfg_)),
      registry(registry_),
      history(history_),
      acceptor(io_),
      accept_retry(io_),
      started_at(steady::now()),
      m(register_metrics(registry_)) {
  const std::size_t n = cfg.underlyings.size();
  current.resize(n);
  ever_complete.assign(n, false);
  for (const auto& u : cfg.underlyings) {
    for (const auto prefix : channel_prefixes) channel_names.push_back(std::string(prefix) + u);
  }
  subscribers.resize(channel_names.size());
  cached.resize(channel_names.size());
  ready_flag.store(n == 0, std::memory_order_relaxed);
}

int server_state::underlying_index(std::string_view name) const {
  for (std::size_t i = 0; i < cfg.underlyings.size(); ++i)
    if (cfg.underlyings[i] == name) return static_cast<int>(i);
  return -1;
}

int server_state::channel_index(std::string_view name) const {
  for (std::size_t i = 0; i < channel_names.size(); ++i)
    if (channel_names[i] == name) return static_cast<int>(i);
  return -1;
}

void server_state::sync() {
  if (notify_pending.load(std::memory_order_acquire)) fan_out();
}

void server_state::on_notify() {
  // Cleared before reading `latest`, so a publish racing with this handler posts again.
  notify_pending.store(false, std::memory_order_release);
  fan_out();
}

void server_state::fan_out() {
  if (stopped) return;
  const auto s = latest.load(std::memory_order_acquire);
  if (!s) return;
  for (std::size_t i = 0; i < cfg.underlyings.size(); ++i) {
    std::shared_ptr<const engine::underlying_snapshot> u;
    for (const auto& p : s->underlyings) {
      if (p && p->underlying == cfg.underlyings[i]) {
        u = p;
        break;
      }
    }
    if (!u) continue;
    if (current[i] && (current[i] == u || current[i]->seq == u->seq)) continue;
    const bool was_stale = current[i] && current[i]->stale;
    current[i] = u;
    if (u->complete && !ever_complete[i]) ever_complete[i] = true;
    if (u->complete || was_stale != u->stale) ready_flag.store(ready(), std::memory_order_relaxed);
    history.record(*u);
    m.fanouts->inc();
    for (std::size_t k = 0; k < channel_kinds; ++k) {
      const std::size_t ch = i * channel_kinds + k;
      cached[ch].reset();
      if (subscribers[ch].empty()) continue;  // rendered only when someone listens
      const auto f = frame_for(ch);
      // A subscriber may leave its lists during the loop (slow consumer): iterate over a copy.
      fanout_scratch.assign(subscribers[ch].begin(), subscribers[ch].end());
      for (auto* sub : fanout_scratch) sub->push_frame(ch, f);
    }
  }
}

std::shared_ptr<const stream_frame> server_state::frame_for(std::size_t channel) {
  if (cached[channel]) return cached[channel];
  const auto& u = current[channel / channel_kinds];
  if (!u) return nullptr;
  auto f = std::make_shared<stream_frame>();
  f->seq = u->seq;
  f->recv_ns = u->recv_ns;
  render_channel_frame(static_cast<channel_kind>(channel % channel_kinds), channel_names[channel],
                       *u, f->text);
  cached[channel] = f;
  return f;
}

bool server_state::ready(std::vector<std::string>* waiting) const {
  bool all = true;
  for (std::size_t i = 0; i < ever_complete.size(); ++i) {
    // Ready: complete once, and its data has not stopped since.
    if (ever_complete[i] && !(current[i] && current[i]->stale)) continue;
    all = false;
    if (waiting != nullptr) waiting->push_back(cfg.underlyings[i]);
  }
  return all;
}

void server_state::count_http(endpoint_id e, unsigned status) {
  std::size_t c = status / 100;
  if (c < 1 || c > 5) c = 5;
  auto* counter = m.http[static_cast<std::size_t>(e)][c - 1];
  if (counter == nullptr) counter = m.http[static_cast<std::size_t>(e)][4];
  counter->inc();
}

void server_state::do_accept() {
  if (stopped) {  // stop() ran before start()
    boost::system::error_code ec;
    acceptor.close(ec);
    return;
  }
  acceptor.async_accept(
      [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        auto& st = *self;
        if (st.stopped || ec == asio::error::operation_aborted) return;
        if (ec) {
          // Typically out of descriptors: retry shortly instead of spinning.
          st.accept_retry.expires_after(std::chrono::milliseconds(100));
          st.accept_retry.async_wait([self](boost::system::error_code tec) {
            if (!tec && !self->stopped) self->do_accept();
          });
          return;
        }
        st.accepted.fetch_add(1, std::memory_order_relaxed);
        boost::system::error_code aec;
        const auto remote = socket.remote_endpoint(aec);
        std::string address = aec ? std::string("?") : remote.address().to_string();
        const auto per = st.per_address.find(address);
        const std::size_t from_address = per == st.per_address.end() ? 0 : per->second;
        if (st.open_connections >= st.cfg.max_connections ||
            from_address >= st.cfg.max_connections_per_address) {
          st.m.connections_refused->inc();
          refuse_connection(self, std::move(socket));
        } else {
          socket.set_option(tcp::no_delay(true), aec);
          connection_slot slot(self, std::move(address));
          run_http_session(self, std::move(socket), std::move(slot));
        }
        st.do_accept();
      });
}

void server_state::do_stop() {
  if (stopped) return;
  stopped = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  // on_server_stop may end a connection and erase it from the set: iterate over a copy.
  const std::vector<server_connection*> conns(connections.begin(), connections.end());
  for (auto* c : conns) {
    if (connections.count(c) != 0) c->on_server_stop();
  }
}

connection_slot::connection_slot(std::shared_ptr<server_state> st, std::string address)
    : st_(std::move(st)), address_(std::move(address)) {
  ++st_->open_connections;
  ++st_->per_address[address_];
  st_->m.connections_open->set(static_cast<double>(st_->open_connections));
}

connection_slot& connection_slot::operator=(connection_slot&& o) noexcept {
  if (this != &o) {
    release();
    st_ = std::move(o.st_);
    address_ = std::move(o.address_);
  }
  return *this;
}

connection_slot::~connection_slot() {
  release();
}

void connection_slot::release() {
  if (!st_) return;
  --st_->open_connections;
  auto it = st_->per_address.find(address_);
  if (it != st_->per_address.end() && --it->second == 0) st_->per_address.erase(it);
  st_->m.connections_open->set(static_cast<double>(st_->open_connections));
  st_.reset();
}

api_server::api_server(asio::io_context& io, api_server_config cfg, core::metrics_registry& metrics,
                       premium_history& history)
    : state_(std::make_shared<server_state>(io, std::move(cfg), metrics, history)) {}

api_server::~api_server() {
  stop();
}

tcp::endpoint api_server::start() {
  auto& st = *state_;
  if (!st.cfg.tls_cert_file.empty() || !st.cfg.tls_key_file.empty()) {
    st.ssl.emplace(asio::ssl::context::tls_server);
    if (auto err =
            feeds::load_tls_server_context(*st.ssl, st.cfg.tls_cert_file, st.cfg.tls_key_file);
        !err.empty()) {
      st.ssl.reset();
      throw std::runtime_error("api server: " + err);
    }
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(st.cfg.host, ec);
  if (ec) throw std::system_error(ec, "api server: bad listen address '" + st.cfg.host + "'");
  const tcp::endpoint ep(addr, st.cfg.port);
  st.acceptor.open(ep.protocol(), ec);
  if (!ec) st.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(ep, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    st.acceptor.close(ignored);
    throw std::system_error(
        ec, "api server: cannot listen on " + st.cfg.host + ":" + std::to_string(st.cfg.port));
  }
  const auto bound = st.acceptor.local_endpoint();
  asio::dispatch(st.io, [s = state_] { s->do_accept(); });
  return bound;
}

void api_server::stop() {
  if (state_->stopping.exchange(true)) return;
  asio::dispatch(state_->io, [s = state_] { s->do_stop(); });
}

void api_server::publish(std::shared_ptr<const engine::snapshot> s) {
  auto& st = *state_;
  st.latest.store(std::move(s), std::memory_order_release);
  st.published.fetch_add(1, std::memory_order_relaxed);
  if (st.stopping.load(std::memory_order_relaxed)) return;
  // On the server's own thread (the engine shares it): fan out now, without a queue round trip.
  if (st.io.get_executor().running_in_this_thread()) {
    st.fan_out();
    return;
  }
  if (!st.notify_pending.exchange(true, std::memory_order_acq_rel)) {
    asio::post(st.io, [w = state_] { w->on_notify(); });
  }
}

server_stats api_server::stats() const {
  const auto& st = *state_;
  const auto& m = st.m;
  server_stats s;
  s.published = st.published.load(std::memory_order_relaxed);
  s.fanouts = m.fanouts->value();
  for (const auto& e : m.http)
    for (const auto* c : e)
      if (c != nullptr) s.http_requests += c->value();
  s.connections_accepted = st.accepted.load(std::memory_order_relaxed);
  s.connections_refused = m.connections_refused->value();
  s.connections_open = static_cast<std::uint64_t>(m.connections_open->value());
  s.ws_sessions = static_cast<std::uint64_t>(m.ws_sessions->value());
  s.ws_subscribers = static_cast<std::uint64_t>(m.ws_subscribers->value());
  s.ws_frames_sent = m.ws_frames_sent->value();
  s.ws_conflated = m.ws_conflated->value();
  s.ws_slow_disconnects = m.ws_slow_disconnects->value();
  s.ws_client_errors = m.ws_client_errors->value();
  s.ready = st.ready_flag.load(std::memory_order_relaxed);
  return s;
}

}  // namespace vrp::service
