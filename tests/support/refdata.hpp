#pragma once

// Access to the published reference cases copied into tests/data/refdata (see its SOURCES.md).

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "deribit_chain.hpp"

namespace vrp::test {

// One group of tests/data/refdata/cases.json by its id (a test failure when it is missing).
inline nlohmann::json load_refdata_group(const std::string& id) {
  std::ifstream in(test_data_path("refdata/cases.json"));
  const auto doc = nlohmann::json::parse(in);
  for (const auto& g : doc.at("groups")) {
    if (g.at("id") == id) return g;
  }
  ADD_FAILURE() << "group " << id << " missing from cases.json";
  return {};
}

}  // namespace vrp::test
