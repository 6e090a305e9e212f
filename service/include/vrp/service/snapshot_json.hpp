#pragma once

// JSON bodies of the vrpd API (ARCHITECTURE.md §5.2) rendered from engine snapshots. Every
// function appends to `out` so the caller can reuse one buffer per connection. Vols are decimals,
// numbers carry 17 significant digits (exact round trip) and non-finite numbers are null.

#include <string>
#include <string_view>

#include "vrp/engine/snapshot.hpp"

namespace vrp::service {

// GET /v1/premium body.
void render_premium(const engine::underlying_snapshot& u, std::string& out);
// GET /v1/surface body.
void render_surface(const engine::underlying_snapshot& u, std::string& out);
// GET /v1/forecast body.
void render_forecast(const engine::underlying_snapshot& u, std::string& out);
// {"channel":"premium.BTC","seq":N,"ts":<ms>,"data":<render_premium body>}
void render_stream_frame(std::string_view channel, const engine::underlying_snapshot& u,
                         std::string& out);
// {"error":{"code":...,"message":...}}
void render_error(std::string_view code, std::string_view message, std::string& out);

}  // namespace vrp::service
