#pragma once

// The engine's settings from the service configuration, shared by vrpd and `vrpctl engine` so
// that both run the very same engine.

#include "vrp/config/config.hpp"
#include "vrp/engine/engine.hpp"

namespace vrp::service {

engine::engine_config make_engine_config(const config::config& c);

}  // namespace vrp::service
