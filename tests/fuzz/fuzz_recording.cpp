// libFuzzer target: the replay exchange's recording parser (feeds/src/replay/recording.cpp) on
// arbitrary text, in any of its three line forms.
//
// Invariants: parse_recording never throws (errors are values); a failure has a message and a
// line within the input; a success has a form consistent with `paced`, every frame a subscription
// notification whose channel is the one its channel_id names, channel ids consistent with
// channels, frame times non-decreasing, and a sorted, duplicate-free instrument list.

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_support.hpp"
#include "vrp/feeds/replay/recording.hpp"

namespace replay = vrp::feeds::replay;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vrp::fuzz::as_text(data, size);
  const replay::load_result r = replay::parse_recording(text);
  if (!r.ok()) {
    VRP_FUZZ_CHECK(!r.error.message.empty());
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    VRP_FUZZ_CHECK(r.error.line <= lines);
    return 0;
  }
  const replay::recording& rec = *r.value;
  VRP_FUZZ_CHECK(rec.paced == (rec.form == replay::recording_form::recording ||
                               rec.form == replay::recording_form::capture));
  VRP_FUZZ_CHECK(rec.channels.size() == rec.channel_ids.size());
  for (std::size_t i = 0; i < rec.channels.size(); ++i) {
    const auto id = rec.find_channel(rec.channels[i]);
    VRP_FUZZ_CHECK(id && *id == i);
  }
  std::int64_t last_ts = 0;
  for (const replay::recorded_frame& f : rec.frames) {
    VRP_FUZZ_CHECK(f.channel_id < rec.channels.size());
    if (rec.paced) {
      VRP_FUZZ_CHECK(f.ts_ns >= last_ts);
      last_ts = f.ts_ns;
    } else {
      VRP_FUZZ_CHECK(f.ts_ns == 0);
    }
    const auto doc = nlohmann::json::parse(f.text, nullptr, false);
    VRP_FUZZ_CHECK(doc.is_object() && doc["method"] == "subscription");
    VRP_FUZZ_CHECK(doc["params"]["channel"] == rec.channels[f.channel_id]);
  }
  VRP_FUZZ_CHECK(std::is_sorted(rec.instruments.begin(), rec.instruments.end()));
  VRP_FUZZ_CHECK(std::adjacent_find(rec.instruments.begin(), rec.instruments.end()) ==
                 rec.instruments.end());
  for (const replay::canned_rpc& c : rec.rpcs) {
    for (const std::string& item : c.result_items) {
      VRP_FUZZ_CHECK(!nlohmann::json::parse(item, nullptr, false).is_discarded());
    }
  }
  return 0;
}
