#include "vrp/engine/snapshot.hpp"

namespace vrp::engine {

std::string_view to_string(quote_status s) {
  switch (s) {
    case quote_status::ok:
      return "ok";
    case quote_status::no_quote:
      return "no_quote";
    case quote_status::crossed:
      return "crossed";
    case quote_status::zero_bid:
      return "zero_bid";
    case quote_status::below_intrinsic:
      return "below_intrinsic";
    case quote_status::above_maximum:
      return "above_maximum";
    case quote_status::no_forward:
      return "no_forward";
    case quote_status::stale:
      return "stale";
    case quote_status::expired:
      return "expired";
    case quote_status::no_convergence:
      return "no_convergence";
  }
  return "unknown";
}

std::string_view to_string(event_reject r) {
  switch (r) {
    case event_reject::unknown_instrument:
      return "unknown_instrument";
    case event_reject::bad_timestamp:
      return "bad_timestamp";
    case event_reject::future_timestamp:
      return "future_timestamp";
    case event_reject::out_of_order:
      return "out_of_order";
    case event_reject::duplicate:
      return "duplicate";
    case event_reject::bad_price:
      return "bad_price";
  }
  return "unknown";
}

std::string_view to_string(forward_source s) {
  switch (s) {
    case forward_source::none:
      return "none";
    case forward_source::venue_underlying:
      return "venue_underlying";
    case forward_source::future:
      return "future";
    case forward_source::parity:
      return "parity";
  }
  return "unknown";
}

std::string_view to_string(bucket b) {
  switch (b) {
    case bucket::put10:
      return "10p";
    case bucket::put25:
      return "25p";
    case bucket::atm:
      return "atm";
    case bucket::call25:
      return "25c";
    case bucket::call10:
      return "10c";
  }
  return "unknown";
}

}  // namespace vrp::engine
