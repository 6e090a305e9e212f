#include "vrp/feeds/replay/server.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cmath>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>
#include <vector>

#include "vrp/feeds/replay/deribit_api.hpp"
#include "vrp/feeds/tls_server.hpp"

namespace vrp::feeds::replay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A real frame cut in half, and the same frame with its first number turned into a string:
// the two ways a feed decoder most often meets bad data.
std::vector<std::string> make_malformed(const recording& rec) {
  std::string base =
      rec.frames.empty()
          ? std::string(
                R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"platform_state","data":{"price_index":"btc_usd","locked":false,"timestamp":1626993723632}}})")
          : rec.frames.front().text;
  std::vector<std::string> out;
  out.push_back(base.substr(0, base.size() / 2));
  std::string typed = base;
  for (std::size_t i = 0; i + 1 < typed.size(); ++i) {
    if (typed[i] != ':') continue;
    std::size_t j = i + 1;
    if (j < typed.size() && typed[j] == '-') ++j;
    if (j >= typed.size() || typed[j] < '0' || typed[j] > '9') continue;
    std::size_t end = j;
    while (end < typed.size() &&
           std::string_view("0123456789.eE+-").find(typed[end]) != std::string_view::npos) {
      ++end;
    }
    typed.insert(end, 1, '"');
    typed.insert(i + 1, 1, '"');
    break;
  }
  out.push_back(std::move(typed));
  return out;
}

// The `shock` fault's rewrite of one ticker notification: bid, ask and mark multiplied by `scale`
// (the engine then inverts higher implied vols) and the timestamp raised to at least `floor_ms`,
// so a re-sent quote never goes back in time. Key order and every other field are kept (ordered
// JSON: decoders may read the fields in wire order). False when the frame has no data object.
bool scale_ticker(std::string_view text, double scale, std::int64_t floor_ms, std::string& out) {
  auto doc = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!doc.is_object()) return false;
  auto params = doc.find("params");
  if (params == doc.end() || !params->is_object()) return false;
  auto data = params->find("data");
  if (data == params->end() || !data->is_object()) return false;
  for (const char* key : {"best_bid_price", "best_ask_price", "mark_price"}) {
    auto it = data->find(key);
    if (it != data->end() && it->is_number()) *it = it->get<double>() * scale;
  }
  if (auto ts = data->find("timestamp"); ts != data->end() && ts->is_number_integer()) {
    if (ts->get<std::int64_t>() < floor_ms) *ts = floor_ms;
  }
  out = doc.dump();
  return true;
}

// Ticker channels of option instruments ("ticker.BTC-25OCT25-100000-C.100ms"): the ones a shock
// rewrites.
bool is_option_ticker(std::string_view channel) {
  if (channel.substr(0, 7) != "ticker.") return false;
  const auto d = derive_instrument(channel_instrument(channel));
  return d && d->kind == "option";
}

std::string oversized_frame(std::string_view channel, std::size_t bytes) {
  std::string head = R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":)" +
                     json(channel).dump() + R"(,"data":{"padding":")";
  const std::string tail = "\"}}}";
  const std::size_t fixed = head.size() + tail.size();
  head.append(bytes > fixed ? bytes - fixed : 0, 'x');
  head += tail;
  return head;
}

}  // namespace

class ws_connection;
class http_connection;

struct server_state {
  server_state(asio::io_context& io, std::shared_ptr<const recording> r, server_config config)
      : ioc(io),
        rec(std::move(r)),
        cfg(std::move(config)),
        acceptor(io),
        stall_timer(io),
        retry_timer(io),
        malformed(make_malformed(*rec)) {
    by_channel.resize(rec->channels.size());
    for (std::size_t i = 0; i < rec->frames.size(); ++i) {
      by_channel[rec->frames[i].channel_id].push_back(static_cast<std::uint32_t>(i));
    }
    option_ticker.resize(rec->channels.size(), false);
    for (std::uint32_t c = 0; c < rec->channels.size(); ++c) {
      if (is_option_ticker(rec->channels[c])) {
        option_ticker[c] = true;
        option_tickers.push_back(c);
      }
    }
  }

  asio::io_context& ioc;
  std::shared_ptr<const recording> rec;
  server_config cfg;
  // Frame indices per channel (ascending), for the snapshot a late subscriber gets.
  std::vector<std::vector<std::uint32_t>> by_channel;
  // Option ticker channels (what the shock fault scales), as a flag per channel id and a list.
  std::vector<bool> option_ticker;
  std::vector<std::uint32_t> option_tickers;
  std::optional<asio::ssl::context> ssl;
  tcp::acceptor acceptor;
  asio::steady_timer stall_timer;
  asio::steady_timer retry_timer;
  std::vector<std::string> malformed;

  std::unordered_set<ws_connection*> ws;
  std::unordered_set<http_connection*> http;
  bool stopping = false;
  steady::time_point stall_until{};
  steady::time_point maintenance_until{};

  std::uint64_t accepted = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t heartbeat_drops = 0;
  std::uint64_t slow_drops = 0;
  std::uint64_t faults = 0;

  bool stalled() const { return steady::now() < stall_until; }
  bool maintenance() const { return steady::now() < maintenance_until; }

  void log(std::string_view line) const {
    if (cfg.log) {
      cfg.log(line);
    } else {
      std::cerr << line << '\n';
    }
  }

  std::vector<std::shared_ptr<ws_connection>> ws_snapshot() const;
};

// The stream-independent face of a WebSocket session, for server-wide operations.
class ws_connection : public std::enable_shared_from_this<ws_connection> {
 public:
  virtual ~ws_connection() = default;
  virtual void abort() = 0;              // close the socket now, no close frame
  virtual void close_after_flush() = 0;  // send what is queued, then a close frame
  virtual void send_owned(std::string text) = 0;
  virtual void on_stall_end() = 0;
  // The shock fault: re-send every option ticker this connection has played, scaled, and scale
  // the later ones too (scale 1 ends a shock).
  virtual void shock(double scale) = 0;
  virtual json status() const = 0;
  virtual std::string first_channel() const = 0;
};

class http_connection {
 public:
  virtual ~http_connection() = default;
  virtual void abort() = 0;
};

std::vector<std::shared_ptr<ws_connection>> server_state::ws_snapshot() const {
  std::vector<std::shared_ptr<ws_connection>> out;
  out.reserve(ws.size());
  for (auto* c : ws) out.push_back(c->shared_from_this());
  return out;
}

namespace {

struct out_msg {
  const std::string* ref = nullptr;  // a recording frame (lives as long as the recording)
  std::string owned;
  bool is_frame = false;
  std::string_view view() const { return ref != nullptr ? std::string_view(*ref) : owned; }
};

template <class Next>
class ws_session final : public ws_connection {
 public:
  ws_session(std::shared_ptr<server_state> st, Next&& next)
      : st_(std::move(st)),
        ws_(std::move(next)),
        endpoint_(*st_->rec, api_options{st_->cfg.min_heartbeat_s, 250, st_->cfg.version}),
        playback_timer_(ws_.get_executor()),
        heartbeat_timer_(ws_.get_executor()),
        seen_(st_->by_channel.size(), false) {}

  ~ws_session() override {
    st_->ws.erase(this);
    if (accepted_) {
      st_->log("event=ws_close frames_sent=" + std::to_string(frames_sent_) +
               " connections=" + std::to_string(st_->ws.size()));
    }
  }

  void run(http::request<http::string_body> req) {
    st_->ws.insert(this);
    req_ = std::move(req);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "vrp-replayd"); }));
    ws_.read_message_max(st_->cfg.max_request_bytes);
    // One text frame per message, however large (the oversized fault relies on it).
    ws_.auto_fragment(false);
    ws_.text(true);
    // Beast answers a peer's close frame from inside async_read, which needs the write side: stop
    // starting writes so a busy playback cannot starve that answer.
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::close) peer_closing_ = closing_ = true;
    });
    ws_.async_accept(req_, [self = self()](beast::error_code ec) { self->on_accept(ec); });
  }

  void abort() override {
    if (aborted_) return;
    aborted_ = closing_ = true;
    playing_ = false;
    playback_timer_.cancel();
    heartbeat_timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  void close_after_flush() override {
    if (!accepted_) return abort();  // mid-handshake: nothing to flush, no close frame possible
    if (closing_) return;
    closing_ = true;
    close_pending_ = true;
    playing_ = false;
    playback_timer_.cancel();
    heartbeat_timer_.cancel();
    if (!writing_ && queue_.empty()) do_close();
  }

  void send_owned(std::string text) override {
    if (closing_ || !accepted_) return;
    enqueue(out_msg{nullptr, std::move(text), false});
  }

  void on_stall_end() override {
    if (closing_) return;
    // Frames are delayed by a stall, not burst out afterwards.
    const auto now = steady::now();
    if (next_due_ < now) next_due_ = now;
    do_write();
    do_playback();
  }

  void shock(double scale) override {
    if (closing_ || !accepted_) return;
    scale_ = scale;
    // The playback head: a re-sent quote is as of now in recording time, never older than the
    // frame it replaces.
    shock_floor_ms_ = std::max(shock_floor_ms_, head_ts_ns_ / 1'000'000);
    for (const std::uint32_t c : st_->option_tickers) {
      if (!seen_[c] || !endpoint_.subscribed(c)) continue;
      const auto* f = last_played(c);
      if (f == nullptr) continue;
      std::string text;
      if (!scale_ticker(f->text, scale_, shock_floor_ms_, text)) continue;
      // One frame per played instrument, bounded by the recording: past the queue bound on
      // purpose (a shock must arrive whole, not cut the client off).
      queue_.push_back(out_msg{nullptr, std::move(text), false});
      ++shock_resent_;
    }
    do_write();
  }

  json status() const override {
    return json{
        {"subscriptions", endpoint_.subscription_count()},
        {"frames_sent", frames_sent_},
        {"playback_done", done_},
        {"shock", {{"scale", scale_}, {"resent", shock_resent_}, {"scaled", shock_scaled_}}},
        {"heartbeat",
         {{"interval", endpoint_.heartbeat_interval_s()},
          {"test_requests", test_requests_},
          {"answers", answers_}}}};
  }

  std::string first_channel() const override {
    auto subs = endpoint_.subscriptions();
    return subs.empty() ? std::string("platform_state") : subs.front();
  }

 private:
  std::shared_ptr<ws_session> self() {
    return std::static_pointer_cast<ws_session>(shared_from_this());
  }

  void on_accept(beast::error_code ec) {
    if (ec) return abort();
    if (aborted_) return;
    accepted_ = true;
    ++st_->accepted;
    st_->log("event=ws_open connections=" + std::to_string(st_->ws.size()) +
             " accepted=" + std::to_string(st_->accepted));
    do_read();
  }

  void do_read() {
    ws_.async_read(read_buf_,
                   [self = self()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return abort();
    const auto us_in = now_us();
    const auto data = read_buf_.cdata();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    if (!closing_) {
      std::string reply;
      endpoint_.set_clock_ms(head_ms());
      const auto fx = endpoint_.handle(text, us_in, now_us(), st_->maintenance(), reply);
      enqueue(out_msg{nullptr, std::move(reply), false});
      if (fx.test_answer && awaiting_answer_) {
        awaiting_answer_ = false;
        ++answers_;
      }
      if (fx.heartbeat_changed) restart_heartbeat();
      if (fx.subscribed) {
        send_snapshots();
        start_playback();
      }
    }
    read_buf_.consume(read_buf_.size());
    if (!aborted_) do_read();
  }

  void enqueue(out_msg m) {
    if (closing_ && !close_pending_) return;
    if (queue_.size() >= st_->cfg.max_queued_frames) {
      // Deribit cuts off a client that reads too slowly (connection_too_slow).
      ++st_->slow_drops;
      st_->log("event=slow_client_dropped queued=" + std::to_string(queue_.size()));
      return abort();
    }
    queue_.push_back(std::move(m));
    do_write();
  }

  void do_write() {
    if (writing_ || aborted_ || peer_closing_ || queue_.empty() || st_->stalled()) return;
    writing_ = true;
    const auto v = queue_.front().view();
    ws_.async_write(asio::buffer(v.data(), v.size()),
                    [self = self()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) return abort();
    if (queue_.front().is_frame) {
      ++frames_sent_;
      ++st_->frames_sent;
    }
    queue_.pop_front();
    if (close_pending_ && queue_.empty()) return do_close();
    do_write();
    do_playback();
  }

  void do_close() {
    close_pending_ = false;
    ws_.async_close(websocket::close_code::normal,
                    [self = self()](beast::error_code) { self->abort(); });
  }

  // Recording time at the playback head: the last frame played, or the first one before playback.
  std::int64_t head_ms() const {
    const auto& frames = st_->rec->frames;
    if (frames.empty()) return 0;
    const std::size_t i = cursor_ == 0 ? 0 : std::min(cursor_, frames.size()) - 1;
    return frames[i].ts_ns / 1'000'000;
  }

  // Like Deribit, whose first message per channel after a subscribe is the current state: a
  // channel subscribed after playback has moved past its frames gets the latest of them at once
  // (otherwise a subscription that arrives in a later chunk would miss the whole recording).
  void send_snapshots() {
    if (cursor_ == 0 && loops_done_ == 0) return;
    const auto& frames = st_->rec->frames;
    for (std::uint32_t c = 0; c < st_->by_channel.size(); ++c) {
      if (seen_[c] || !endpoint_.subscribed(c)) continue;
      const auto& idx = st_->by_channel[c];
      // The latest frame before the cursor; after a full loop, the latest of the recording.
      auto it = std::lower_bound(idx.begin(), idx.end(), static_cast<std::uint32_t>(cursor_));
      if (it == idx.begin()) {
        if (loops_done_ == 0 || idx.empty()) continue;
        it = idx.end();
      }
      seen_[c] = true;
      push_frame(frames[*std::prev(it)]);
    }
    do_write();
  }

  // The latest frame of channel c this connection's playback has passed (the one a snapshot
  // would send): before the cursor, or after a full loop the latest of the recording.
  const recorded_frame* last_played(std::uint32_t c) const {
    const auto& idx = st_->by_channel[c];
    auto it = std::lower_bound(idx.begin(), idx.end(), static_cast<std::uint32_t>(cursor_));
    if (it == idx.begin()) {
      if (loops_done_ == 0 || idx.empty()) return nullptr;
      it = idx.end();
    }
    return &st_->rec->frames[*std::prev(it)];
  }

  // Queues a recorded frame: by reference, or rewritten while a shock is on.
  void push_frame(const recorded_frame& f) {
    if (scale_ != 1.0 && st_->option_ticker[f.channel_id]) {
      std::string text;
      if (scale_ticker(f.text, scale_, shock_floor_ms_, text)) {
        ++shock_scaled_;
        queue_.push_back(out_msg{nullptr, std::move(text), true});
        return;
      }
    }
    queue_.push_back(out_msg{&f.text, {}, true});
  }

  // Playback: frame i+1 is due (ts[i+1]-ts[i]) / speed after frame i, each wait capped.
  void start_playback() {
    if (playing_ || closing_ || st_->rec->frames.empty()) return;
    if (done_) return;  // all loops played; the connection stays open for RPC and heartbeats
    playing_ = true;
    next_due_ = steady::now();
    do_playback();
  }

  void do_playback() {
    if (!playing_ || closing_ || timer_armed_ || st_->stalled()) return;
    const auto& frames = st_->rec->frames;
    const auto& cfg = st_->cfg;
    const auto now = steady::now();
    std::size_t scanned = 0;
    while (queue_.size() < cfg.playback_low_water) {
      if (cursor_ >= frames.size()) {
        cursor_ = 0;
        ++loops_done_;
        const bool idle_pass = !matched_in_pass_;
        matched_in_pass_ = false;
        if ((cfg.loops != 0 && loops_done_ >= cfg.loops)) {
          playing_ = false;
          done_ = true;
          break;
        }
        if (idle_pass) {
          // Nothing subscribed matches any frame: wait for the next subscribe instead of spinning.
          playing_ = false;
          break;
        }
      }
      if (next_due_ > now) {
        timer_armed_ = true;
        playback_timer_.expires_at(next_due_);
        playback_timer_.async_wait([self = self()](beast::error_code ec) {
          self->timer_armed_ = false;
          if (!ec) self->do_playback();
        });
        break;
      }
      const auto& f = frames[cursor_];
      if (endpoint_.subscribed(f.channel_id)) {
        matched_in_pass_ = true;
        seen_[f.channel_id] = true;
        push_frame(f);
      }
      if (st_->rec->paced && cfg.speed > 0.0 && cursor_ + 1 < frames.size()) {
        const double gap_ns = static_cast<double>(frames[cursor_ + 1].ts_ns - f.ts_ns) / cfg.speed;
        const auto cap_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.max_gap);
        const auto wait_ns = std::min<double>(gap_ns, static_cast<double>(cap_ns.count()));
        next_due_ += std::chrono::nanoseconds(static_cast<std::int64_t>(wait_ns));
      }
      head_ts_ns_ = f.ts_ns;
      ++cursor_;
      if (++scanned >= 4'096) {
        // Many frames on channels this client did not subscribe: yield to other connections.
        asio::post(ws_.get_executor(), [self = self()] { self->do_playback(); });
        break;
      }
    }
    do_write();
  }

  void restart_heartbeat() {
    ++heartbeat_gen_;
    awaiting_answer_ = false;
    heartbeat_timer_.cancel();
    if (endpoint_.heartbeat_interval_s() > 0) arm_heartbeat();
  }

  void arm_heartbeat() {
    heartbeat_timer_.expires_after(std::chrono::seconds(endpoint_.heartbeat_interval_s()));
    heartbeat_timer_.async_wait([self = self(), gen = heartbeat_gen_](beast::error_code ec) {
      if (!ec && gen == self->heartbeat_gen_) self->on_heartbeat();
    });
  }

  void on_heartbeat() {
    if (closing_) return;
    if (st_->stalled()) return arm_heartbeat();  // a stall sends nothing, not even heartbeats
    if (awaiting_answer_) {
      // Deribit drops a client that leaves a test_request unanswered.
      ++st_->heartbeat_drops;
      st_->log("event=heartbeat_drop test_requests=" + std::to_string(test_requests_) +
               " answers=" + std::to_string(answers_));
      return abort();
    }
    ++test_requests_;
    awaiting_answer_ = true;
    enqueue(out_msg{nullptr,
                    R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}})",
                    false});
    arm_heartbeat();
  }

  std::shared_ptr<server_state> st_;
  websocket::stream<Next> ws_;
  http::request<http::string_body> req_;
  beast::flat_buffer read_buf_;
  deribit_endpoint endpoint_;
  std::deque<out_msg> queue_;
  asio::steady_timer playback_timer_;
  asio::steady_timer heartbeat_timer_;

  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_pending_ = false;
  bool aborted_ = false;
  bool peer_closing_ = false;

  bool playing_ = false;
  bool done_ = false;
  bool timer_armed_ = false;
  bool matched_in_pass_ = false;
  std::size_t cursor_ = 0;
  std::vector<bool> seen_;  // channels that already got a frame on this connection
  std::uint32_t loops_done_ = 0;
  steady::time_point next_due_{};
  std::int64_t head_ts_ns_ = 0;  // recorded time of the last frame the cursor passed

  double scale_ = 1.0;               // shock fault: price factor on option tickers (1: none)
  std::int64_t shock_floor_ms_ = 0;  // shock fault: the earliest timestamp a rewrite may carry
  std::uint64_t shock_resent_ = 0;
  std::uint64_t shock_scaled_ = 0;

  std::uint64_t heartbeat_gen_ = 0;
  bool awaiting_answer_ = false;
  std::uint64_t test_requests_ = 0;
  std::uint64_t answers_ = 0;
  std::uint64_t frames_sent_ = 0;
};

std::string apply_fault(const std::shared_ptr<server_state>& state, std::string_view body_json);
std::string status_json(const server_state& st);

http::response<http::string_body> control_response(const std::shared_ptr<server_state>& st,
                                                   const http::request<http::string_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "vrp-replayd");
  res.set(http::field::content_type, "application/json");
  auto target = std::string_view(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  auto err = [&](http::status s, std::string_view msg) {
    res.result(s);
    res.body() = json{{"error", {{"code", static_cast<int>(s)}, {"message", msg}}}}.dump();
  };
  if (target == "/control/fault") {
    if (req.method() != http::verb::post) {
      err(http::status::method_not_allowed, "use POST");
    } else if (auto e = apply_fault(st, req.body()); !e.empty()) {
      err(http::status::bad_request, e);
    } else {
      res.result(http::status::ok);
      res.body() = R"({"ok":true})";
    }
  } else if (target == "/control/status") {
    if (req.method() != http::verb::get) {
      err(http::status::method_not_allowed, "use GET");
    } else {
      res.result(http::status::ok);
      res.body() = status_json(*st);
    }
  } else {
    err(http::status::not_found, "not found");
  }
  res.prepare_payload();
  return res;
}

// The first request on a connection decides: a WebSocket upgrade becomes a ws_session, anything
// else is served as control HTTP (the Beast advanced server-flex split).
template <class Stream>
class http_session final : public http_connection,
                           public std::enable_shared_from_this<http_session<Stream>> {
 public:
  template <class... Args>
  explicit http_session(std::shared_ptr<server_state> st, Args&&... args)
      : st_(std::move(st)), stream_(std::forward<Args>(args)...) {}

  ~http_session() override { st_->http.erase(this); }

  void run() {
    st_->http.insert(this);
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      do_read();
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->abort();
                                self->do_read();
                              });
    }
  }

  void abort() override {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(st_->cfg.max_request_bytes);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec || st_->stopping) return abort();
    if (websocket::is_upgrade(parser_->get())) {
      beast::get_lowest_layer(stream_).expires_never();
      auto ws = std::make_shared<ws_session<Stream>>(st_, std::move(stream_));
      ws->run(parser_->release());
      return;
    }
    res_ = control_response(st_, parser_->get());
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code wec, std::size_t) {
                        if (wec || !self->res_.keep_alive()) return self->abort();
                        self->do_read();
                      });
  }

  std::shared_ptr<server_state> st_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
};

void do_accept(const std::shared_ptr<server_state>& st) {
  st->acceptor.async_accept([st](beast::error_code ec, tcp::socket socket) {
    if (st->stopping || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Typically out of descriptors: retry shortly rather than spin.
      st->log("event=accept_error error=\"" + ec.message() + "\"");
      st->retry_timer.expires_after(std::chrono::milliseconds(100));
      st->retry_timer.async_wait([st](beast::error_code tec) {
        if (!tec && !st->stopping) do_accept(st);
      });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (st->ssl) {
      std::make_shared<http_session<beast::ssl_stream<beast::tcp_stream>>>(
          st, beast::tcp_stream(std::move(socket)), *st->ssl)
          ->run();
    } else {
      std::make_shared<http_session<beast::tcp_stream>>(st, std::move(socket))->run();
    }
    do_accept(st);
  });
}

}  // namespace

server::server(asio::io_context& ioc, std::shared_ptr<const recording> rec, server_config cfg)
    : state_(std::make_shared<server_state>(ioc, std::move(rec), std::move(cfg))) {}

server::~server() {
  stop();
}

std::string server::start() {
  auto& st = *state_;
  const auto& cfg = st.cfg;
  if (!cfg.tls_cert_file.empty() || !cfg.tls_key_file.empty()) {
    st.ssl.emplace(asio::ssl::context::tls_server);
    if (auto err = load_tls_server_context(*st.ssl, cfg.tls_cert_file, cfg.tls_key_file);
        !err.empty()) {
      return err;
    }
  }
  beast::error_code ec;
  const auto addr = asio::ip::make_address(cfg.listen_host, ec);
  if (ec) return "bad listen address '" + cfg.listen_host + "': " + ec.message();
  const tcp::endpoint ep(addr, cfg.listen_port);
  st.acceptor.open(ep.protocol(), ec);
  if (!ec) st.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(ep, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return "cannot listen on " + cfg.listen_host + ":" + std::to_string(cfg.listen_port) + ": " +
           ec.message();
  do_accept(state_);
  return {};
}

std::string server::local_address() const {
  beast::error_code ec;
  const auto ep = state_->acceptor.local_endpoint(ec);
  if (ec) return {};
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

std::uint16_t server::local_port() const {
  beast::error_code ec;
  const auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void server::stop() {
  auto& st = *state_;
  if (st.stopping) return;
  st.stopping = true;
  beast::error_code ec;
  st.acceptor.close(ec);
  st.stall_timer.cancel();
  st.retry_timer.cancel();
  for (auto& c : st.ws_snapshot()) c->close_after_flush();
  const std::vector<http_connection*> https(st.http.begin(), st.http.end());
  for (auto* h : https) h->abort();
}

std::size_t server::connection_count() const {
  return state_->ws.size();
}

std::string server::apply_fault(std::string_view body_json) {
  return replay::apply_fault(state_, body_json);
}

std::string server::status_json() const {
  return replay::status_json(*state_);
}

namespace {

std::string apply_fault(const std::shared_ptr<server_state>& state_, std::string_view body_json) {
  auto& st = *state_;
  const json doc = json::parse(body_json, nullptr, false);
  if (!doc.is_object()) return "body must be a JSON object";
  auto kind_it = doc.find("kind");
  if (kind_it == doc.end() || !kind_it->is_string()) return "\"kind\" must be a string";
  const auto kind = kind_it->get<std::string>();
  auto get_int = [&](const char* key, std::int64_t lo, std::int64_t hi,
                     std::int64_t& out) -> std::string {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_number_integer()) {
      return "\"" + std::string(key) + "\" must be an integer";
    }
    out = it->get<std::int64_t>();
    if (out < lo || out > hi) {
      return "\"" + std::string(key) + "\" must be in [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]";
    }
    return {};
  };
  const auto conns = st.ws_snapshot();
  std::int64_t n = 0;
  if (kind == "drop") {
    for (auto& c : conns) c->abort();
  } else if (kind == "stall") {
    if (auto e = get_int("ms", 0, 3'600'000, n); !e.empty()) return e;
    st.stall_until = std::max(st.stall_until, steady::now() + std::chrono::milliseconds(n));
    st.stall_timer.expires_at(st.stall_until);
    st.stall_timer.async_wait([w = std::weak_ptr<server_state>(state_)](beast::error_code ec) {
      auto s = w.lock();
      if (ec || !s) return;
      for (auto& c : s->ws_snapshot()) c->on_stall_end();
    });
  } else if (kind == "malformed") {
    // Bounded well below max_queued_frames so the fault itself never cuts a client off.
    if (auto e = get_int("count", 1, 1'000, n); !e.empty()) return e;
    for (auto& c : conns) {
      for (std::int64_t i = 0; i < n; ++i) {
        c->send_owned(st.malformed[static_cast<std::size_t>(i) % st.malformed.size()]);
      }
    }
  } else if (kind == "oversized") {
    if (auto e = get_int("bytes", 1, static_cast<std::int64_t>(st.cfg.max_fault_bytes), n);
        !e.empty()) {
      return e;
    }
    for (auto& c : conns) {
      c->send_owned(oversized_frame(c->first_channel(), static_cast<std::size_t>(n)));
    }
  } else if (kind == "error") {
    if (auto e = get_int("code", INT32_MIN, INT32_MAX, n); !e.empty()) return e;
    auto msg = doc.find("message");
    if (msg == doc.end() || !msg->is_string()) return "\"message\" must be a string";
    bool close = false;
    if (auto c = doc.find("close"); c != doc.end()) {
      if (!c->is_boolean()) return "\"close\" must be a boolean";
      close = c->get<bool>();
    }
    const auto us = now_us();
    const auto frame =
        rpc_error_frame({}, static_cast<int>(n), msg->get<std::string>(), {}, us, us);
    for (auto& c : conns) {
      c->send_owned(frame);
      if (close) c->close_after_flush();
    }
  } else if (kind == "maintenance") {
    if (auto e = get_int("ms", 0, 3'600'000, n); !e.empty()) return e;
    st.maintenance_until = steady::now() + std::chrono::milliseconds(n);
    const std::string frame =
        R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"platform_state","data":{"maintenance":true}}})";
    for (auto& c : conns) {
      c->send_owned(frame);
      c->close_after_flush();
    }
  } else if (kind == "shock") {
    auto it = doc.find("scale");
    if (it == doc.end() || !it->is_number()) return "\"scale\" must be a number";
    const double scale = it->get<double>();
    if (!std::isfinite(scale) || scale < 0.1 || scale > 10.0) {
      return "\"scale\" must be a finite number between 0.1 and 10 (got " + it->dump() + ")";
    }
    for (auto& c : conns) c->shock(scale);
  } else {
    return "unknown kind '" + kind +
           "' (allowed: drop, stall, malformed, oversized, error, maintenance, shock)";
  }
  ++st.faults;
  st.log("event=fault kind=" + kind + " connections=" + std::to_string(conns.size()));
  return {};
}

std::string status_json(const server_state& st) {
  json clients = json::array();
  for (auto& c : st.ws_snapshot()) clients.push_back(c->status());
  json j = {{"connections", st.ws.size()},
            {"clients", std::move(clients)},
            {"frames_sent", st.frames_sent},
            {"heartbeat_drops", st.heartbeat_drops},
            {"slow_drops", st.slow_drops},
            {"faults", st.faults},
            {"accepted", st.accepted},
            {"recording",
             {{"frames", st.rec->frames.size()},
              {"instruments", st.rec->instruments.size()},
              {"channels", st.rec->channels.size()},
              {"charts", st.rec->charts.size()},
              {"form", recording_form_name(st.rec->form)}}}};
  return j.dump();
}

}  // namespace

}  // namespace vrp::feeds::replay
