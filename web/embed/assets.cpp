#include "vrp/web/assets.hpp"

#include <algorithm>

namespace vrp::web {

const asset* find_asset(std::span<const asset> table, std::string_view path) {
  const auto it = std::lower_bound(table.begin(), table.end(), path,
                                   [](const asset& a, std::string_view p) { return a.path < p; });
  return it != table.end() && it->path == path ? &*it : nullptr;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view strip_weak(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  const auto ours = strip_weak(etag);
  if (ours.empty()) return false;
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    const auto item = trim(if_none_match.substr(0, comma));
    if_none_match =
        comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    if (item == "*" || strip_weak(item) == ours) return true;
  }
  return false;
}

static_reply serve_static(std::span<const asset> table, std::string_view method,
                          std::string_view path, std::string_view if_none_match) {
  const asset* file = find_asset(table, path);
  if (file == nullptr) {
    if (path != "/") return {};
    if (method != "GET" && method != "HEAD") return {static_status::method_not_allowed, nullptr};
    return {static_status::not_built, nullptr};
  }
  if (method != "GET" && method != "HEAD") return {static_status::method_not_allowed, file};
  if (!if_none_match.empty() && etag_matches(if_none_match, file->etag)) {
    return {static_status::not_modified, file};
  }
  return {static_status::ok, file};
}

}  // namespace vrp::web
