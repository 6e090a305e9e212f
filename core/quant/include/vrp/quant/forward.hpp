#pragma once

#include <span>

#include "vrp/quant/status.hpp"

namespace vrp::quant {

// A call and a put at the same strike and expiry, priced in the same units (mids or marks).
struct parity_quote {
  double strike;
  double call_price;
  double put_price;
};

struct forward_result {
  double forward = 0.0;
  status code = status::ok;
  double strike_used = 0.0;  // K* whose parity relation gave `forward`
  int pairs_used = 0;        // pairs that took part in the outlier vote (1 when there was no vote)
};

// Most pairs that vote on the forward: the ones with the smallest |C - P|.
inline constexpr int parity_vote_pairs = 5;

// Forward from put-call parity, Cboe style (VIX white paper 2014, step 1):
// F = K* + (C - P) / discount at the strike K* where |C - P| is smallest; `discount` = e^{-RT}.
//
// Robust to one bad pair: the (up to) five pairs with the smallest |C - P| each imply a forward;
// with three or more, their median m and MAD define the consistent band
// |F_i - m| <= max(3 * 1.4826 * MAD, 1e-3 * m), and the Cboe K* is the smallest-|C - P| pair
// inside that band (so a clean board gives exactly the Cboe forward). With one or two pairs there
// is no vote and the smallest |C - P| wins. Input needs no ordering; pairs with non-finite,
// negative or non-positive-strike values are ignored. Allocates nothing.
// Statuses: invalid_input (discount not finite or <= 0), insufficient_data (no usable pair),
// degenerate (the chosen forward is not positive).
forward_result forward_from_parity(std::span<const parity_quote> quotes, double discount = 1.0);

}  // namespace vrp::quant
