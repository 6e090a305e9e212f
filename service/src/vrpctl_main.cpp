#include <iostream>
#include <string_view>
#include <vector>

#include "ctl_client.hpp"
#include "vrp/service/calc.hpp"
#include "vrp/service/engine_cmd.hpp"
#include "vrp/service/feed_cmd.hpp"
#include "vrp/service/record.hpp"

namespace {

constexpr std::string_view usage =
    "usage: vrpctl calc     (JSON lines on stdin, one reply per line on stdout)\n"
    "       vrpctl record --out FILE --deribit-chain CSV[.gz] [--deribit-chain ...]\n"
    "                     [--bars UNDERLYING=CSV[.gz] ...] [--dvol UNDERLYING=CSV ...]\n"
    "                     [--history-days N]   (replay recording for vrp-replayd)\n"
    "       vrpctl feed [--url URL] [--currencies BTC,ETH] [--duration S] ...\n"
    "                     (run the Deribit feed, print its counters; --help for all options)\n"
    "       vrpctl get premium|surface|forecast --underlying BTC [--url http://127.0.0.1:8080]\n"
    "                     [--raw]   (one vrpd API answer as a table, or the JSON with --raw)\n"
    "       vrpctl watch [--url URL] [--channels premium.BTC,premium.ETH] [--count N]\n"
    "                     (one row per stream update until N updates or SIGINT)\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc >= 2 ? std::string_view(argv[1]) : std::string_view{};
  if (command == "calc") {
    vrp::service::run_calc(std::cin, std::cout);
    return 0;
  }
  if (command == "record") {
    const std::vector<std::string_view> args(argv + 2, argv + argc);
    return vrp::service::run_record(args, std::cout, std::cerr);
  }
  if (command == "feed") return vrp::service::run_feed(argc - 1, argv + 1);
  if (command == "engine") return vrp::service::run_engine(argc - 1, argv + 1);
  if (command == "get") return vrp::service::run_get(argc - 1, argv + 1);
  if (command == "watch") return vrp::service::run_watch(argc - 1, argv + 1);
  std::cerr << usage;
  return 2;
}
