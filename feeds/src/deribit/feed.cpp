#include "vrp/feeds/deribit/feed.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "vrp/core/time.hpp"

namespace vrp::feeds::deribit {

struct feed::impl : ws_handler, outbox, std::enable_shared_from_this<impl> {
  impl(boost::asio::io_context& io_context, feed_config cfg, core::instrument_table& table,
       core::spsc_ring<core::event>& ring, core::ring_doorbell& bell)
      : io(io_context),
        config(std::move(cfg)),
        instruments(table),
        producer(ring, bell, table.capacity()),
        decoder(table),
        proto(config.protocol, decoder, table, producer),
        session(io_context, session_config(config), *this),
        timer(io_context) {}

  static ws_session_config session_config(const feed_config& cfg) {
    ws_session_config s = cfg.session;
    if (s.url.empty()) s.url = production_url;
    return s;
  }

  // ws_handler
  void on_open(ws_session&) override {
    proto.on_open(core::wall_clock_ns(), *this);
    end_burst();
  }

  bool on_frame(ws_session&, std::string_view text, std::int64_t recv_ns) override {
    if (text.size() > config.max_frame_bytes) {
      ++oversized_skipped;
      return false;
    }
    const frame_verdict verdict = proto.on_frame(text, recv_ns, *this);
    producer.end_batch();
    if (config.on_burst_end && !session.input_pending()) config.on_burst_end();
    apply(verdict);
    return verdict.data;
  }

  void on_close(ws_session&, close_reason, const std::error_code&) override {
    proto.on_close(core::wall_clock_ns());
    end_burst();
  }

  void end_burst() {
    producer.end_batch();
    if (config.on_burst_end) config.on_burst_end();
  }

  // outbox
  bool send(std::string_view text) override { return session.send(text); }

  void apply(const frame_verdict& verdict) {
    switch (verdict.action) {
      case session_action::none:
        break;
      case session_action::reconnect:
        session.reconnect(close_reason::requested);
        break;
      case session_action::reconnect_after_delay:
        session.backoff_at_least(verdict.delay);
        session.reconnect(close_reason::requested);
        break;
    }
  }

  void do_timer() {
    timer.expires_after(config.timer_period);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!self || ec || self->stopped) return;
      self->on_timer();
    });
  }

  void on_timer() {
    producer.flush();
    if (session.connected()) apply(proto.on_timer(core::wall_clock_ns(), *this));
    end_burst();
    do_timer();
  }

  feed_stats collect() const {
    feed_stats s;
    s.session = session.stats();
    s.protocol = proto.stats();
    s.codec = decoder.stats();
    s.ring = producer.stats();
    s.state = proto.state();
    s.live_channels = proto.live_channels();
    s.wanted_channels = proto.wanted_channels();
    s.oversized_skipped = oversized_skipped;
    return s;
  }

  boost::asio::io_context& io;
  feed_config config;
  core::instrument_table& instruments;
  core::event_ring_producer producer;
  codec decoder;
  protocol proto;
  ws_session session;
  boost::asio::steady_timer timer;
  bool stopped = false;
  std::uint64_t oversized_skipped = 0;
};

feed::feed(boost::asio::io_context& io, feed_config config, core::instrument_table& instruments,
           core::spsc_ring<core::event>& ring, core::ring_doorbell& bell)
    : impl_(std::make_shared<impl>(io, std::move(config), instruments, ring, bell)) {}

feed::~feed() = default;

void feed::start() {
  impl_->session.start();
  impl_->do_timer();
}

void feed::stop() {
  boost::asio::post(impl_->io, [self = impl_] {
    self->stopped = true;
    self->timer.cancel();
    self->session.stop();
  });
}

feed_stats feed::stats() const {
  return impl_->collect();
}

}  // namespace vrp::feeds::deribit
