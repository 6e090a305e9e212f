// `vrpctl engine`: plays a replay recording straight into the engine (no sockets) and prints the
// final premium, surface or forecast of one underlying as vrpd's API would serve it. It answers
// "what should vrpd show for this data?" and the integration test compares vrpd against it.
#include "vrp/service/engine_cmd.hpp"

#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "vrp/config/config.hpp"
#include "vrp/core/instruments.hpp"
#include "vrp/engine/engine.hpp"
#include "vrp/feeds/replay/recording.hpp"
#include "vrp/service/engine_setup.hpp"
#include "vrp/service/offline_replay.hpp"
#include "vrp/service/snapshot_json.hpp"

namespace vrp::service {

int run_engine(int argc, const char* const* argv) {
  namespace po = boost::program_options;
  po::options_description flags("vrpctl engine --recording FILE [options]");
  // clang-format off
  flags.add_options()
      ("help,h", "show this help")
      ("recording", po::value<std::string>(), "replay recording (vrpctl record / vrp-replayd format)")
      ("config", po::value<std::string>(),
       "vrpd configuration whose [engine] and [forecast] settings to use (default: the defaults)")
      ("underlying", po::value<std::string>()->default_value("BTC"), "underlying to print")
      ("what", po::value<std::string>()->default_value("premium"), "premium, surface or forecast");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "vrpctl engine: " << e.what() << "\n" << flags;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("recording")) {
    std::cerr << "vrpctl engine: --recording FILE is required\n" << flags;
    return 2;
  }
  const std::string what = vm["what"].as<std::string>();
  if (what != "premium" && what != "surface" && what != "forecast") {
    std::cerr << "vrpctl engine: --what must be premium, surface or forecast (got '" << what
              << "')\n";
    return 2;
  }

  config::config cfg;
  try {
    if (vm.count("config")) cfg = config::load_config_file(vm["config"].as<std::string>());
  } catch (const config::config_error& e) {
    std::cerr << "vrpctl engine: " << e.what() << "\n";
    return 2;
  }
  auto ecfg = make_engine_config(cfg);
  // Offline runs re-estimate inline: the output depends on the recording only.
  ecfg.forecast.background_refit = false;

  auto loaded = feeds::replay::load_recording_file(vm["recording"].as<std::string>());
  if (!loaded.value) {
    std::cerr << "vrpctl engine: " << vm["recording"].as<std::string>();
    if (loaded.error.line > 0) std::cerr << ":" << loaded.error.line;
    std::cerr << ": " << loaded.error.message << "\n";
    return 1;
  }
  core::instrument_table instruments;
  engine::engine eng(ecfg, instruments);
  offline_replay_stats stats;
  const auto snap = replay_into_engine(*loaded.value, eng, instruments, stats);
  eng.wait_idle();
  const std::string u = vm["underlying"].as<std::string>();
  const engine::underlying_snapshot* us = snap ? snap->find(u) : nullptr;
  if (us == nullptr) {
    std::cerr << "vrpctl engine: no snapshot of '" << u << "' (configured underlyings and data?)\n";
    return 1;
  }
  std::string out;
  if (what == "premium") render_premium(*us, out);
  if (what == "surface") render_surface(*us, out);
  if (what == "forecast") render_forecast(*us, out);
  std::cout << out << "\n";
  return 0;
}

}  // namespace vrp::service
