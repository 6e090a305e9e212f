#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace vrp::service {

// Answers one line of the JSON-lines calculator (ARCHITECTURE.md §5.1) with one line of JSON
// (no trailing newline). Never throws: a malformed line or failed computation gives `"ok":false`
// with a snake_case error code.
std::string calc_line(std::string_view line);

// Reads lines from `in` until EOF and writes one reply per non-blank line to `out`, flushing each.
// Returns the number of replies with `"ok":false`.
int run_calc(std::istream& in, std::ostream& out);

}  // namespace vrp::service
