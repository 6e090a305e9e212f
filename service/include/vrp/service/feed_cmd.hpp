#pragma once

namespace vrp::service {

// `vrpctl feed [options]`: runs the Deribit feed and prints its counters as JSON lines on stdout
// (one every --stats-every-ms, and a final one with "final":true). Returns the process exit code.
int run_feed(int argc, const char* const* argv);

}  // namespace vrp::service
