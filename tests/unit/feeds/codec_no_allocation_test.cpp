// The codec allocates nothing per message once its instruments are interned. Checked by counting
// the calling thread's calls of the global operator new, replaced here for the whole
// feeds_codec_tests executable (it forwards to malloc, so the other tests are unaffected).

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "counting_new.hpp"

namespace {

using namespace vrp::feeds::deribit;
using vrp::test::codec::deribit_dir;
using vrp::test::codec::padded_frame;
using vrp::test::codec::read_lines;
using vrp::test::codec::read_text;
using vrp::test::codec::wrap;

class counting_sink : public vrp::core::event_sink {
 public:
  void push(const vrp::core::event&) override { ++count; }
  long count = 0;
};

TEST(codec_allocation, decoding_known_instruments_allocates_nothing) {
  std::vector<padded_frame> frames;
  frames.emplace_back(read_text(deribit_dir() + "notif_ticker_option.real_2021.json"));
  frames.emplace_back(read_text(deribit_dir() + "notif_ticker_linear_usdc_option.real_2024.json"));
  frames.emplace_back(read_text(deribit_dir() + "notif_ticker_btc_perpetual.real_2019.json"));
  frames.emplace_back(read_text(deribit_dir() + "notif_deribit_price_index.docs.json"));
  frames.emplace_back(read_text(deribit_dir() + "notif_deribit_volatility_index.envelope.json"));
  frames.emplace_back(read_text(deribit_dir() + "ws_heartbeat_test_request.json"));
  frames.emplace_back(read_text(deribit_dir() + "ws_subscribe_response.real_2021.json"));
  frames.emplace_back(read_text(deribit_dir() + "error_bad_request.docs.json"));
  frames.emplace_back(wrap(
      "markprice.options.btc_usd",
      nlohmann::json::parse(read_text(deribit_dir() + "notif_markprice_options.data.docs.json"))
          .at("data")
          .dump()));
  frames.emplace_back(wrap("platform_state", R"({"maintenance":true})"));
  for (const auto& line :
       read_lines(deribit_dir() + "replay/cryptofeed_2021-07-22_options.frames.jsonl")) {
    frames.emplace_back(line);
  }
  // Rejected frames must not allocate either.
  frames.emplace_back(
      R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.ETH-30JUL21-2800-C.raw","data":{"timestamp":"x","mark_price":1}}})");
  frames.emplace_back(R"({"jsonrpc":"2.0","method":"subscr)");

  vrp::core::instrument_table table{1024};
  codec c{table};
  counting_sink sink;
  for (const auto& f : frames) c.decode(f.view(), 1, sink);  // warm-up: interns every name
  const long pushed_warm = sink.count;
  ASSERT_GT(pushed_warm, 90);

  const auto before = vrp::test::thread_allocations;
  for (int round = 0; round < 200; ++round) {
    for (const auto& f : frames) c.decode(f.view(), 1, sink);
  }
  const auto during = vrp::test::thread_allocations - before;
  EXPECT_EQ(during, 0U);
  EXPECT_EQ(sink.count, pushed_warm * 201);
}

TEST(codec_allocation, counter_sees_allocations) {
  // The replacement is active: a std::string past the small-string buffer allocates, and so does
  // a codec (its parser's buffers, allocated inside libsimdjson with nothrow new).
  auto before = vrp::test::thread_allocations;
  std::string s(100, 'x');
  EXPECT_GT(vrp::test::thread_allocations - before, 0U);
  EXPECT_EQ(s.size(), 100U);
  vrp::core::instrument_table table{16};
  before = vrp::test::thread_allocations;
  codec c{table};
  EXPECT_GE(vrp::test::thread_allocations - before, 3U);
}

}  // namespace
