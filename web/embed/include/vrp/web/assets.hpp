#pragma once

// The dashboard's static files, embedded into the binary at build time (web/CMakeLists.txt), and
// the rules vrpd serves them by: exact-match lookup (no file system, so no path traversal),
// strong ETags with If-None-Match, and the security headers of every static response.

#include <span>
#include <string_view>

namespace vrp::web {

struct asset {
  std::string_view path;           // request path: "/" for the page, "/assets/<name>" otherwise
  std::string_view content_type;   // with charset for text
  std::string_view etag;           // strong validator, quoted: "\"<sha-256 prefix>\""
  std::string_view cache_control;  // "no-cache" for the page, immutable for hashed names
  std::string_view body;
};

// The embedded files sorted by path; empty when the dashboard was not built into this binary.
std::span<const asset> embedded_assets();

// How the dashboard was built into this binary: "bundled" (esbuild at build time), "prebuilt"
// (web/dist) or "none".
std::string_view embedded_assets_origin();

// The file at exactly `path` in `table` (sorted by path), or null.
const asset* find_asset(std::span<const asset> table, std::string_view path);

// If-None-Match (RFC 9110 §13.1.2): true when `if_none_match` is "*" or lists `etag`, compared
// weakly (a W/ prefix is ignored on either side).
bool etag_matches(std::string_view if_none_match, std::string_view etag);

enum class static_status {
  ok,                  // serve `file` (HEAD: headers only)
  not_modified,        // 304 with `file`'s validators
  method_not_allowed,  // a static path asked with another method than GET or HEAD
  not_built,           // "/" while the table is empty: 503 saying how to build the dashboard
  not_static,          // not a static path: the caller routes it on
};

struct static_reply {
  static_status status = static_status::not_static;
  const asset* file = nullptr;
};

// What a request for `path` gets from `table`. `method` is the request method ("GET", "HEAD",
// ...); `if_none_match` the header's value (empty when absent).
static_reply serve_static(std::span<const asset> table, std::string_view method,
                          std::string_view path, std::string_view if_none_match);

// Headers of every static response (the page loads only its own files and talks only to vrpd).
inline constexpr std::string_view content_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";
inline constexpr std::string_view allowed_methods = "GET, HEAD";
inline constexpr std::string_view not_built_message =
    "the dashboard was not built into this vrpd: install Node.js and npm, run `npm ci --prefix "
    "web` (or scripts/install-deps.sh), then re-run CMake and rebuild vrpd";

}  // namespace vrp::web
