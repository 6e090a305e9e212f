#include <gtest/gtest.h>

#include "vrp/quant/black.hpp"

TEST(black, placeholder_compiles) {
  EXPECT_GT(vrp::quant::black76_price(100, 100, 1, 0.2, vrp::quant::option_type::call), 0);
}
