// vrpd: the premium service. Reads one TOML file (vrp::config), lets a few flags override it, and
// runs the daemon until SIGINT/SIGTERM. Exit codes: 0 clean shutdown, 1 runtime failure (e.g. the
// API port is taken), 2 bad command line or configuration.
#include <boost/program_options.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "vrp/config/config.hpp"
#include "vrpd/daemon.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description flags("vrpd --config FILE [options]");
  // clang-format off
  flags.add_options()
      ("help,h", "show this help")
      ("config", po::value<std::string>(), "configuration file (TOML; see deploy/vrpd.example.toml)")
      ("listen", po::value<std::string>(), "API address HOST:PORT (overrides api.listen)")
      ("deribit-url", po::value<std::string>(),
       "Deribit WebSocket URL (overrides venues.deribit.url)")
      ("state-dir", po::value<std::string>(), "state directory (overrides service.state_dir)")
      ("check-config", "validate the configuration, print it and exit");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "vrpd: " << e.what() << "\n" << flags;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("config")) {
    std::cerr << "vrpd: --config FILE is required\n" << flags;
    return 2;
  }

  vrp::config::config cfg;
  try {
    cfg = vrp::config::load_config_file(vm["config"].as<std::string>());
    vrp::config::overrides o;
    if (vm.count("listen")) o.listen = vm["listen"].as<std::string>();
    if (vm.count("deribit-url")) o.deribit_url = vm["deribit-url"].as<std::string>();
    if (vm.count("state-dir")) o.state_dir = vm["state-dir"].as<std::string>();
    cfg = vrp::config::apply_overrides(std::move(cfg), o);
  } catch (const vrp::config::config_error& e) {
    std::cerr << "vrpd: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("check-config")) {
    std::cout << vrp::config::describe(cfg) << "\n";
    return 0;
  }
  return vrp::service::run_daemon(cfg);
}
