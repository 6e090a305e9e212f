#pragma once

// Small command-line helpers shared by vrpctl's commands.

#include <sstream>
#include <string>
#include <vector>

namespace vrp::service {

// "a,b,,c" -> {"a", "b", "c"}: comma-separated list flags (--currencies, --channels).
inline std::vector<std::string> split_csv(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace vrp::service
