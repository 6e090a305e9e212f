// WebSocket side of the API server: the /v1/stream protocol and the per-subscriber queue.
//
// Like Beast's chat-multi example, one immutable rendered frame is shared by every subscriber
// of its channel and each session writes one message at a time from its own queue; unlike it,
// the queue is bounded: a full queue conflates per channel (the newest frame replaces the newest
// waiting frame of its channel, so the client sees a seq gap), and a session whose oldest unsent
// message waited longer than slow_consumer_timeout is disconnected, so one stalled reader never
// holds memory or the others back.

#include "server/server_ws.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "server/ws_message.hpp"
#include "vrp/core/time.hpp"
#include "vrp/service/snapshot_json.hpp"

namespace vrp::service {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// Replies (acks, pongs, errors) waiting before the session stops reading the client: a client
// that sends requests without reading the answers gets back-pressure, not a growing buffer.
constexpr std::size_t max_pending_replies = 16;
constexpr auto close_grace = std::chrono::seconds(1);

struct out_item {
  std::shared_ptr<const stream_frame> frame;  // a stream frame, or null for a reply
  std::string reply;
  std::size_t channel = 0;
  steady::time_point queued_at;
};

template <class Stream>
class ws_session final : public server_connection,
                         public stream_subscriber,
                         public std::enable_shared_from_this<ws_session<Stream>> {
 public:
  ws_session(std::shared_ptr<server_state> st, Stream stream, connection_slot slot)
      : st_(std::move(st)),
        ws_(std::move(stream)),
        slot_(std::move(slot)),
        slow_timer_(ws_.get_executor()),
        close_timer_(ws_.get_executor()),
        subscribed_(st_->channel_names.size(), false) {}

  ~ws_session() override {
    unsubscribe_all();
    st_->connections.erase(this);
    if (accepted_) st_->m.ws_sessions->add(-1.0);
  }

  void run(http::request<http::string_body> req) {
    st_->connections.insert(this);
    req_ = std::move(req);
    const auto& cfg = st_->cfg;
    if (cfg.ws_send_buffer_bytes > 0) {
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().set_option(
          asio::socket_base::send_buffer_size(cfg.ws_send_buffer_bytes), ec);
    }
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = std::chrono::seconds(10);
    opt.idle_timeout = cfg.idle_timeout;
    opt.keep_alive_pings = true;  // a live client answers the pings, a dead one times out
    ws_.set_option(opt);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "vrpd"); }));
    ws_.read_message_max(cfg.ws_max_message_bytes);
    ws_.auto_fragment(false);
    ws_.text(true);
    ws_.async_accept(
        req_, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void on_server_stop() override {
    if (!accepted_) return abort();
    close_with(websocket::close_code::going_away, "server stopping");
  }

  void push_frame(std::size_t channel, const std::shared_ptr<const stream_frame>& f) override {
    if (closing_ || !accepted_ || !f) return;
    const auto now = steady::now();
    if (too_slow(now)) return slow_consumer();
    if (waiting_frames_ >= st_->cfg.subscriber_queue) {
      // Conflate: the newest waiting frame of this channel gives its place to the newer one.
      const std::size_t first_waiting = writing_ ? 1 : 0;
      for (std::size_t i = queue_.size(); i > first_waiting; --i) {
        auto& item = queue_[i - 1];
        if (item.frame && item.channel == channel) {
          item.frame = f;
          st_->m.ws_conflated->inc();
          return;
        }
      }
    }
    queue_.push_back(out_item{f, {}, channel, now});
    ++waiting_frames_;
    do_write();
    arm_slow_timer();
  }

 private:
  void on_accept(beast::error_code ec) {
    req_ = {};
    if (ec) {
      st_->count_http(endpoint_id::stream, 400);
      return abort();
    }
    st_->count_http(endpoint_id::stream, 101);
    accepted_ = true;
    st_->m.ws_sessions->add(1.0);
    if (st_->stopped) return close_with(websocket::close_code::going_away, "server stopping");
    do_read();
  }

  void do_read() {
    ws_.async_read(read_buf_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      // message_too_big: Beast already failed the connection with close code 1009.
      if (ec == websocket::error::message_too_big) st_->m.ws_client_errors->inc();
      return abort();
    }
    if (!closing_) {
      const auto data = read_buf_.cdata();
      on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    read_buf_.consume(read_buf_.size());
    if (aborted_) return;
    if (waiting_replies_ >= max_pending_replies) {
      read_paused_ = true;  // resumed by on_write
      return;
    }
    do_read();
  }

  void on_message(std::string_view text) {
    const ws_request r = parse_ws_message(*st_, text);
    switch (r.op) {
      case ws_op::invalid:
        return client_error(r.error_code, r.error_message);
      case ws_op::ping:
        return reply(R"({"op":"pong"})");
      case ws_op::subscribe:
        return on_subscribe(r.channels);
      case ws_op::unsubscribe:
        return on_unsubscribe(r.channels);
    }
  }

  void on_subscribe(const std::vector<std::size_t>& channels) {
    std::size_t fresh = 0;
    for (const auto i : channels) fresh += subscribed_[i] ? 0 : 1;
    if (subscriptions_ + fresh > st_->cfg.max_subscriptions_per_client) {
      return client_error("too_many_subscriptions",
                          "at most " + std::to_string(st_->cfg.max_subscriptions_per_client) +
                              " subscriptions per connection");
    }
    st_->sync();  // the first frames below are then the newest published ones
    std::vector<std::size_t> added;
    for (const auto i : channels) {
      if (subscribed_[i]) continue;
      subscribed_[i] = true;
      st_->subscribers[i].push_back(this);
      added.push_back(i);
    }
    set_subscriptions(subscriptions_ + added.size());
    reply(ack("subscribed", channels));
    for (const auto i : added) {
      if (closing_) break;
      if (auto f = st_->frame_for(i)) push_frame(i, f);
    }
  }

  void on_unsubscribe(const std::vector<std::size_t>& channels) {
    std::size_t removed = 0;
    for (const auto i : channels) {
      if (!subscribed_[i]) continue;
      remove_subscriber(i);
      ++removed;
    }
    set_subscriptions(subscriptions_ - removed);
    // Frames of these channels still waiting are dropped: after the ack, nothing of them.
    const std::size_t first_waiting = writing_ ? 1 : 0;
    for (std::size_t i = queue_.size(); i > first_waiting; --i) {
      auto& item = queue_[i - 1];
      if (item.frame && !subscribed_[item.channel]) {
        queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i - 1));
        --waiting_frames_;
      }
    }
    reply(ack("unsubscribed", channels));
  }

  std::string ack(std::string_view op, const std::vector<std::size_t>& channels) const {
    std::string out = R"({"op":")";
    out += op;
    out += R"(","channels":[)";
    for (std::size_t k = 0; k < channels.size(); ++k) {
      if (k > 0) out += ',';
      out += '"';
      out += st_->channel_names[channels[k]];  // our own names: no escaping needed
      out += '"';
    }
    out += "]}";
    return out;
  }

  void client_error(std::string_view code, const std::string& message) {
    st_->m.ws_client_errors->inc();
    std::string out;
    render_error(code, message, out);
    reply(std::move(out));
  }

  void reply(std::string text) {
    if (closing_) return;
    const auto now = steady::now();
    if (too_slow(now)) return slow_consumer();
    queue_.push_back(out_item{nullptr, std::move(text), 0, now});
    ++waiting_replies_;
    do_write();
    arm_slow_timer();
  }

  void do_write() {
    if (writing_ || closing_ || queue_.empty()) return;
    auto& item = queue_.front();
    if (item.frame) {
      --waiting_frames_;
    } else {
      --waiting_replies_;
    }
    writing_ = true;
    const std::string& text = item.frame ? item.frame->text : item.reply;
    ws_.async_write(asio::buffer(text),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) return abort();
    if (queue_.empty()) return;  // cleared by an abort racing with this completion
    const out_item item = std::move(queue_.front());
    queue_.pop_front();
    if (item.frame) {
      st_->m.ws_frames_sent->inc();
      if (item.frame->recv_ns > 0) {
        st_->m.tick_to_publish->observe(
            static_cast<double>(core::wall_clock_ns() - item.frame->recv_ns) * 1e-9);
      }
    }
    if (closing_) return;  // the close frame goes out now (Beast resumes the suspended close)
    if (read_paused_ && waiting_replies_ < max_pending_replies / 2) {
      read_paused_ = false;
      do_read();
    }
    do_write();
  }

  // The oldest unsent message (the one being written, else the first waiting) is too old.
  bool too_slow(steady::time_point now) const {
    return !queue_.empty() && now - queue_.front().queued_at >= st_->cfg.slow_consumer_timeout;
  }

  // One timer per session, armed only while something is queued, so that a reader that stalls
  // after the last update is still caught without a periodic sweep.
  void arm_slow_timer() {
    if (slow_timer_armed_ || queue_.empty() || closing_) return;
    slow_timer_armed_ = true;
    slow_timer_.expires_at(queue_.front().queued_at + st_->cfg.slow_consumer_timeout);
    slow_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      self->slow_timer_armed_ = false;
      if (ec || self->closing_) return;
      if (self->too_slow(steady::now())) return self->slow_consumer();
      self->arm_slow_timer();
    });
  }

  void slow_consumer() {
    if (closing_) return;
    st_->m.ws_slow_disconnects->inc();
    close_with(websocket::close_code::policy_error, "slow consumer");
  }

  // Drops what waits, sends a close frame after the write in flight (if the peer ever reads it)
  // and closes the socket after a short grace either way.
  void close_with(websocket::close_code code, std::string_view reason) {
    if (closing_) return;
    closing_ = true;
    unsubscribe_all();
    while (queue_.size() > (writing_ ? 1U : 0U)) queue_.pop_back();
    waiting_frames_ = waiting_replies_ = 0;
    slow_timer_.cancel();
    ws_.async_close(websocket::close_reason(code, beast::string_view(reason.data(), reason.size())),
                    [self = this->shared_from_this()](beast::error_code) { self->abort(); });
    close_timer_.expires_after(
        std::min<steady::duration>(close_grace, st_->cfg.slow_consumer_timeout));
    close_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->abort();
    });
  }

  void abort() {
    if (aborted_) return;
    aborted_ = closing_ = true;
    unsubscribe_all();
    slow_timer_.cancel();
    close_timer_.cancel();
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  void remove_subscriber(std::size_t channel) {
    subscribed_[channel] = false;
    auto& subs = st_->subscribers[channel];
    const auto it = std::find(subs.begin(), subs.end(), static_cast<stream_subscriber*>(this));
    if (it != subs.end()) {
      *it = subs.back();
      subs.pop_back();
    }
  }

  void unsubscribe_all() {
    if (subscriptions_ == 0) return;
    for (std::size_t i = 0; i < subscribed_.size(); ++i)
      if (subscribed_[i]) remove_subscriber(i);
    set_subscriptions(0);
  }

  void set_subscriptions(std::size_t n) {
    if ((subscriptions_ == 0) != (n == 0)) st_->m.ws_subscribers->add(n == 0 ? -1.0 : 1.0);
    subscriptions_ = n;
  }

  std::shared_ptr<server_state> st_;
  websocket::stream<Stream> ws_;
  connection_slot slot_;
  http::request<http::string_body> req_;
  beast::flat_buffer read_buf_;
  std::deque<out_item> queue_;
  asio::steady_timer slow_timer_;
  asio::steady_timer close_timer_;
  std::vector<bool> subscribed_;  // per channel
  std::size_t subscriptions_ = 0;
  std::size_t waiting_frames_ = 0;   // frames queued, the one being written not included
  std::size_t waiting_replies_ = 0;  // replies queued, the one being written not included
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool aborted_ = false;
  bool read_paused_ = false;
  bool slow_timer_armed_ = false;
};

}  // namespace

void run_ws_session(std::shared_ptr<server_state> st, plain_stream stream,
                    http::request<http::string_body> req, connection_slot slot) {
  std::make_shared<ws_session<plain_stream>>(std::move(st), std::move(stream), std::move(slot))
      ->run(std::move(req));
}

void run_ws_session(std::shared_ptr<server_state> st, tls_stream stream,
                    http::request<http::string_body> req, connection_slot slot) {
  std::make_shared<ws_session<tls_stream>>(std::move(st), std::move(stream), std::move(slot))
      ->run(std::move(req));
}

}  // namespace vrp::service
