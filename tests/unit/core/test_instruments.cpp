#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "vrp/core/instruments.hpp"

namespace {

using namespace vrp::core;

instrument_info named(std::string_view name) {
  instrument_info info;
  copy_name(info.name, name);
  return info;
}

TEST(instrument_table, interns_each_name_once) {
  instrument_table table(8);
  const auto a = table.add(named("BTC-28NOV25-100000-C"));
  const auto b = table.add(named("BTC-PERPETUAL"));
  EXPECT_EQ(a, 0U);
  EXPECT_EQ(b, 1U);
  EXPECT_EQ(table.add(named("BTC-28NOV25-100000-C")), a);
  EXPECT_EQ(table.find("BTC-PERPETUAL"), b);
  EXPECT_EQ(table.find("ETH-PERPETUAL"), no_instrument);
  EXPECT_EQ(table.size(), 2U);
  EXPECT_EQ(table.at(a).name_view(), "BTC-28NOV25-100000-C");
}

TEST(instrument_table, refuses_empty_too_long_and_overflowing_names) {
  instrument_table table(2);
  EXPECT_EQ(table.add(named("")), no_instrument);
  instrument_info too_long;
  EXPECT_FALSE(copy_name(too_long.name, std::string(200, 'x')));
  EXPECT_EQ(table.add(named("A")), 0U);
  EXPECT_EQ(table.add(named("B")), 1U);
  EXPECT_EQ(table.add(named("C")), no_instrument);
  EXPECT_EQ(table.size(), 2U);
}

// A reader on another thread sees complete entries for every id below size().
TEST(instrument_table, readers_see_complete_entries_while_the_writer_adds) {
  constexpr int n = 20'000;
  instrument_table table(n);
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      instrument_info info = named("I-" + std::to_string(i));
      info.strike = i;
      table.add(info);
    }
  });
  std::size_t checked = 0;
  while (checked < static_cast<std::size_t>(n)) {
    const std::size_t size = table.size();
    for (; checked < size; ++checked) {
      const auto& info = table.at(static_cast<instrument_id>(checked));
      ASSERT_EQ(info.strike, static_cast<double>(checked));
      ASSERT_EQ(info.name_view(), "I-" + std::to_string(checked));
    }
  }
  writer.join();
}

}  // namespace
