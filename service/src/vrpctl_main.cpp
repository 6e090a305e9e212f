#include <iostream>
#include <string_view>
#include <vector>

#include "vrp/service/calc.hpp"
#include "vrp/service/feed_cmd.hpp"
#include "vrp/service/record.hpp"

namespace {

constexpr std::string_view usage =
    "usage: vrpctl calc     (JSON lines on stdin, one reply per line on stdout)\n"
    "       vrpctl record --out FILE --deribit-chain CSV[.gz] [--deribit-chain ...]\n"
    "                     [--bars UNDERLYING=CSV[.gz] ...] [--dvol UNDERLYING=CSV ...]\n"
    "                     [--history-days N]   (replay recording for vrp-replayd)\n"
    "       vrpctl feed [--url URL] [--currencies BTC,ETH] [--duration S] ...\n"
    "                     (run the Deribit feed, print its counters; --help for all options)\n";

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
  std::cerr << usage;
  return 2;
}
