#pragma once

#include "vrp/config/config.hpp"

namespace vrp::service {

// Runs vrpd with a validated configuration until SIGINT or SIGTERM (ARCHITECTURE.md §3 threads):
// the feeds' I/O thread, the engine thread, the API server's thread, and the forecasters' refit
// workers. Returns the process exit code.
int run_daemon(const config::config& cfg);

}  // namespace vrp::service
