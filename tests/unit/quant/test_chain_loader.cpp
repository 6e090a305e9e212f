#include <gtest/gtest.h>

#include "deribit_chain.hpp"

TEST(deribit_chain_loader, reads_every_btc_row_with_its_expiry_groups) {
  const auto rows = vrp::test::load_deribit_chain(
      vrp::test::test_data_path("deribit/deribit_btc_chain_2025-10-24T2315Z.csv"));
  // SOURCES.md: 732 rows, 12 expiries, 25OCT25 to 25SEP26.
  EXPECT_EQ(rows.size(), 732u);
  EXPECT_EQ(vrp::test::by_expiry(rows).size(), 12u);
  EXPECT_EQ(rows.front().instrument, "BTC-25OCT25-100000-C");
  // 2025-10-24T23:15:28.687 UTC
  EXPECT_EQ(rows.front().timestamp_ms, 1761347728687);
}
