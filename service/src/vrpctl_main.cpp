#include <iostream>
#include <string_view>

#include "vrp/service/calc.hpp"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "calc") {
    vrp::service::run_calc(std::cin, std::cout);
    return 0;
  }
  std::cerr << "usage: vrpctl calc   (JSON lines on stdin, one reply per line on stdout)\n";
  return 2;
}
