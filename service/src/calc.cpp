#include "vrp/service/calc.hpp"

#include <istream>
#include <ostream>

namespace vrp::service {

std::string calc_line(std::string_view) {
  return R"({"ok":false})";
}

int run_calc(std::istream& in, std::ostream& out) {
  int failures = 0;
  std::string line;
  while (std::getline(in, line)) {
    out << calc_line(line) << '\n' << std::flush;
  }
  return failures;
}

}  // namespace vrp::service
