#pragma once

namespace vrp::service {

// `vrpctl engine --recording FILE [--config FILE] [--underlying U] [--what premium|surface|
// forecast]`: the recording played straight into the engine; prints the final JSON of one
// underlying as vrpd's API serves it. Returns the process exit code.
int run_engine(int argc, const char* const* argv);

}  // namespace vrp::service
