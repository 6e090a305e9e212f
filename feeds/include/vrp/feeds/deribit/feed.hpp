#pragma once

// A running Deribit feed: one ws_session, the protocol and the codec behind it, and the producer
// side of the event ring to the engine. Everything runs on the io_context's thread; the engine
// thread only pops the ring. Faults the protocol detects (rate limit, maintenance, request
// timeouts, a subscribe that left channels out) turn into reconnects or counters here.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "vrp/core/event_ring.hpp"
#include "vrp/core/events.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/core/spsc_ring.hpp"
#include "vrp/feeds/deribit/codec.hpp"
#include "vrp/feeds/deribit/protocol.hpp"
#include "vrp/feeds/ws_session.hpp"

namespace boost::asio {
class io_context;
}

namespace vrp::feeds::deribit {

inline constexpr const char* production_url = "wss://www.deribit.com/ws/api/v2";

struct feed_config {
  ws_session_config session;  // session.url defaults to production_url when empty
  protocol_config protocol;
  std::chrono::milliseconds timer_period{1'000};  // protocol timers and pending-event flushes
  // Frames above this size are skipped and counted without dropping the connection (Deribit's
  // largest, a whole-chain markprice.options, is ~100 KB). session.max_message_bytes is the hard
  // limit above which the session reconnects.
  std::size_t max_frame_bytes = 1U << 20;
  // Called on the I/O thread at the end of each burst: after a frame when the socket has nothing
  // more to read, and after connection and timer events. A consumer running on the I/O thread
  // (vrpd's engine with engine.thread = "io") drains the ring here, so a burst is one batch.
  std::function<void()> on_burst_end;
};

// Everything a scrape or a status line needs, copied on the I/O thread.
struct feed_stats {
  ws_session_stats session;
  protocol_stats protocol;
  codec_stats codec;
  core::event_ring_stats ring;
  protocol_state state = protocol_state::disconnected;
  std::size_t live_channels = 0;
  std::size_t wanted_channels = 0;
  std::uint64_t oversized_skipped = 0;
};

class feed {
 public:
  feed(boost::asio::io_context& io, feed_config config, core::instrument_table& instruments,
       core::spsc_ring<core::event>& ring, core::ring_doorbell& bell);
  ~feed();
  feed(const feed&) = delete;
  feed& operator=(const feed&) = delete;

  void start();
  void stop();  // any thread

  // I/O thread only (post a call to read it from elsewhere).
  feed_stats stats() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace vrp::feeds::deribit
