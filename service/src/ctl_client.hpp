#pragma once

// `vrpctl get` and `vrpctl watch`: command-line clients of the vrpd API (ARCHITECTURE.md §5.2).
// The table formatting is in pure functions of the JSON bodies so that it can be checked without
// a server.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace vrp::service {

// argv[0] is the subcommand ("get", "watch"); returns the process exit code: 0 success,
// 1 server or connection error (message on stderr), 2 usage error.
int run_get(int argc, const char* const* argv);
int run_watch(int argc, const char* const* argv);

// Readable tables of the GET /v1/premium, /v1/surface and /v1/forecast bodies. Vols are shown in
// percent with two decimals; a missing number (JSON null or absent) is "-".
std::string format_premium(const nlohmann::json& premium);
std::string format_surface(const nlohmann::json& surface);
std::string format_forecast(const nlohmann::json& forecast);

// `watch` output: a header line, then one row per stream frame {"channel","seq","ts","data"}:
// time (UTC), channel, seq, a gap marker when seq jumped past previous_seq + 1 (updates were
// conflated), and atm iv, rv forecast and premium of the 7, 30 and 90 day tenors.
std::string format_watch_header();
std::string format_watch_row(const nlohmann::json& frame, std::optional<std::int64_t> previous_seq);

}  // namespace vrp::service
