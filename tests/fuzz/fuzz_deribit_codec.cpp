// libFuzzer target: the Deribit frame codec on arbitrary frames, one frame per input line, with
// a realistic instrument table loaded first (so tickers of listed options reach the unit
// conversions, and an earlier ticker's underlying_price feeds later markprice entries).
//
// Invariants: decode never throws; a frame pushes events only as a subscription and exactly
// `info.events` of them; a malformed frame carries a reason; every event names a known
// instrument of the right kind, has a venue time in (1970, 2200] and prices that are NaN or finite
// and >= 0; the codec's counters add up.

#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "deribit_instruments.hpp"
#include "fuzz_support.hpp"
#include "vrp/feeds/deribit/codec.hpp"

namespace {

using namespace vrp;
namespace deribit = vrp::feeds::deribit;
using fuzz::finite_or_missing;
using fuzz::non_negative_or_missing;

constexpr std::int64_t recv_ns = 1'761'347'700'000'000'000;    // 2025-10-24T23:15Z
constexpr std::int64_t max_ts_ns = 7'258'118'400'000'000'000;  // 2200-01-01T00:00Z
constexpr std::size_t max_frames = 64;

struct collecting_sink final : core::event_sink {
  std::vector<core::event> events;
  void push(const core::event& e) override { events.push_back(e); }
};

void check_ts(std::int64_t ts_ns) {
  VRP_FUZZ_CHECK(ts_ns > 0 && ts_ns <= max_ts_ns);
}

void check_event(const core::instrument_table& table, const core::event& e) {
  if (const auto* q = std::get_if<core::option_quote>(&e)) {
    VRP_FUZZ_CHECK(table.contains(q->id));
    VRP_FUZZ_CHECK(table.at(q->id).kind == core::instrument_kind::option);
    check_ts(q->ts_ns);
    VRP_FUZZ_CHECK(q->recv_ns == recv_ns);
    for (double x : {q->bid_price, q->ask_price, q->mark_price, q->bid_amount, q->ask_amount,
                     q->underlying_price, q->index_price, q->open_interest}) {
      VRP_FUZZ_CHECK(non_negative_or_missing(x));
    }
    for (double x : {q->venue_bid_iv, q->venue_ask_iv, q->venue_mark_iv, q->interest_rate}) {
      VRP_FUZZ_CHECK(finite_or_missing(x));
    }
  } else if (const auto* t = std::get_if<core::index_tick>(&e)) {
    VRP_FUZZ_CHECK(table.contains(t->id));
    VRP_FUZZ_CHECK(table.at(t->id).kind == core::instrument_kind::index);
    check_ts(t->ts_ns);
    VRP_FUZZ_CHECK(std::isfinite(t->price) && t->price >= 0.0);
  } else if (const auto* d = std::get_if<core::dvol_tick>(&e)) {
    VRP_FUZZ_CHECK(table.contains(d->id));
    VRP_FUZZ_CHECK(table.at(d->id).kind == core::instrument_kind::index);
    check_ts(d->ts_ns);
    VRP_FUZZ_CHECK(std::isfinite(d->vol) && d->vol >= 0.0);
  } else if (const auto* f = std::get_if<core::funding_tick>(&e)) {
    VRP_FUZZ_CHECK(table.contains(f->id));
    VRP_FUZZ_CHECK(table.at(f->id).kind == core::instrument_kind::perpetual);
    check_ts(f->ts_ns);
    for (double x : {f->mark_price, f->index_price, f->bid_price, f->ask_price}) {
      VRP_FUZZ_CHECK(non_negative_or_missing(x));
    }
    VRP_FUZZ_CHECK(finite_or_missing(f->current_funding) && finite_or_missing(f->funding_8h));
  } else if (const auto* c = std::get_if<core::chain_event>(&e)) {
    VRP_FUZZ_CHECK(c->id == core::no_instrument);
    VRP_FUZZ_CHECK(c->change == core::chain_change::maintenance_begin ||
                   c->change == core::chain_change::maintenance_end);
  } else {
    VRP_FUZZ_CHECK(!"the codec produced an event kind it never decodes");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::deribit_instruments();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Every input starts from the same table (rebuilt only when an input interned new names) and a
  // fresh codec, so a finding reproduces from its input alone.
  static std::unique_ptr<core::instrument_table> shared_table;
  if (!shared_table || shared_table->size() != fuzz::deribit_instruments().size()) {
    shared_table = std::make_unique<core::instrument_table>(fuzz::deribit_instruments().size() +
                                                            fuzz::fuzz_table_spare);
    fuzz::load_deribit_instruments(*shared_table);
  }
  core::instrument_table& table = *shared_table;
  deribit::codec codec(table);
  fuzz::padded_frame frame(deribit::required_padding());
  collecting_sink sink;
  std::uint64_t frames = 0;
  std::uint64_t events = 0;
  for (const std::string_view line : fuzz::split_lines(fuzz::as_text(data, size), max_frames)) {
    sink.events.clear();
    const deribit::frame_info info = codec.decode(frame.assign(line), recv_ns, sink);
    ++frames;
    events += sink.events.size();
    VRP_FUZZ_CHECK(info.events == sink.events.size());
    if (info.kind != deribit::frame_kind::subscription) VRP_FUZZ_CHECK(sink.events.empty());
    if (info.kind == deribit::frame_kind::malformed) {
      VRP_FUZZ_CHECK(info.reject != deribit::reject_reason::none);
    }
    if (info.kind == deribit::frame_kind::subscription) {
      VRP_FUZZ_CHECK(info.channel != deribit::channel_kind::none);
    }
    VRP_FUZZ_CHECK(table.size() <= table.capacity());
    for (const core::event& e : sink.events) check_event(table, e);
    for (const core::event& e : sink.events) {
      if (std::holds_alternative<core::chain_event>(e)) {
        VRP_FUZZ_CHECK(info.channel == deribit::channel_kind::platform_state);
      }
    }
  }
  const deribit::codec_stats& s = codec.stats();
  VRP_FUZZ_CHECK(s.frames == frames);
  VRP_FUZZ_CHECK(s.events == events);
  std::uint64_t by_channel = 0;
  for (const std::uint64_t n : s.frames_by_channel) by_channel += n;
  VRP_FUZZ_CHECK(by_channel == frames);
  return 0;
}
