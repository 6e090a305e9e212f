#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <thread>

#include "counting_new.hpp"
#include "ws_test_support.hpp"

namespace vrp::feeds::test {
namespace {

// Counts frames and snapshots the allocation counter; allocates nothing itself.
struct counting_handler : ws_handler {
  std::size_t frames = 0;
  std::uint64_t allocations_at_warm = 0;
  std::uint64_t allocations_at_end = 0;
  std::size_t warm_frame = 0;
  std::size_t end_frame = 0;
  int opens = 0;

  void on_open(ws_session&) override { ++opens; }
  bool on_frame(ws_session&, std::string_view, std::int64_t) override {
    ++frames;
    if (frames == warm_frame) allocations_at_warm = vrp::test::thread_allocations;
    if (frames == end_frame) allocations_at_end = vrp::test::thread_allocations;
    return true;
  }
  void on_close(ws_session&, close_reason, const std::error_code&) override {}
};

// Reads 3000 frames; counts the client thread's allocations over the last 2000.
std::uint64_t steady_state_allocations(bool tls) {
  // The server runs on its own thread so that only the client's allocations are counted.
  asio::io_context server_io;
  server_script script;
  for (int i = 0; i < 3'000; ++i) {
    // Sizes vary so the buffer first has to grow to the largest frame.
    script.frames_on_open.push_back(
        std::string(100 + (i * 37) % 900, static_cast<char>('a' + i % 26)));
  }
  std::optional<test_server> server;
  if (tls) {
    server.emplace(server_io, script, tls_file("localhost.pem"), tls_file("localhost.key"));
  } else {
    server.emplace(server_io, script);
  }
  auto guard = asio::make_work_guard(server_io);
  std::thread server_thread([&] { server_io.run(); });

  asio::io_context io;
  counting_handler handler;
  handler.warm_frame = 1'000;
  handler.end_frame = 3'000;
  auto cfg = fast_config(server->url("localhost"));
  if (tls) cfg.ca_file = tls_file("ca.pem");
  ws_session session(io, cfg, handler);
  session.start();

  const bool done = run_until(io, [&] { return handler.frames >= 3'000; });
  asio::post(server_io, [&] {
    server->close();
    guard.reset();
  });
  server_thread.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(handler.opens, 1);
  return handler.allocations_at_end - handler.allocations_at_warm;
}

TEST(ws_alloc, steady_state_reads_do_not_allocate) {
  EXPECT_EQ(steady_state_allocations(false), 0U) << "client allocations over 2000 frames";
}

TEST(ws_alloc, steady_state_tls_reads_do_not_allocate) {
  EXPECT_EQ(steady_state_allocations(true), 0U) << "client allocations over 2000 frames";
}

}  // namespace
}  // namespace vrp::feeds::test
