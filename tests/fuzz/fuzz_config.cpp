// libFuzzer target: the configuration loader on arbitrary TOML text.
//
// Invariants: load_config_string either returns a config or throws config_error (its documented
// failure; anything else escaping is a finding), whose what() starts with the source name and
// carries a problem description; a loaded config describes itself (describe) and loads the same
// again from the same text.

#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "vrp/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = vrp::fuzz::as_text(data, size);
  try {
    const vrp::config::config c = vrp::config::load_config_string(text, "fuzz.toml");
    VRP_FUZZ_CHECK(c.source == "fuzz.toml");
    const std::string line = vrp::config::describe(c);
    VRP_FUZZ_CHECK(!line.empty());
    // Loading is a pure function of the text.
    VRP_FUZZ_CHECK(vrp::config::load_config_string(text, "fuzz.toml") == c);
  } catch (const vrp::config::config_error& e) {
    const std::string_view what = e.what();
    VRP_FUZZ_CHECK(what.substr(0, 9) == "fuzz.toml");
    VRP_FUZZ_CHECK(what.size() > 11);
  }
  return 0;
}
