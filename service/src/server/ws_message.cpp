#include "server/ws_message.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace vrp::service {

namespace {

ws_request invalid(std::string code, std::string message) {
  ws_request r;
  r.error_code = std::move(code);
  r.error_message = std::move(message);
  return r;
}

}  // namespace

ws_request parse_ws_message(const server_state& st, std::string_view text) {
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return invalid("bad_request", "a message must be a JSON object");
  }
  const auto op_it = doc.find("op");
  if (op_it == doc.end() || !op_it->is_string()) {
    return invalid("bad_request", "\"op\" must be a string");
  }
  const auto& op = op_it->get_ref<const std::string&>();
  ws_request r;
  if (op == "ping") {
    r.op = ws_op::ping;
    return r;
  }
  const bool subscribe = op == "subscribe";
  if (!subscribe && op != "unsubscribe") {
    return invalid("unknown_op",
                   "unknown op '" + op.substr(0, 32) + "' (allowed: subscribe, unsubscribe, ping)");
  }
  const auto ch_it = doc.find("channels");
  if (ch_it == doc.end() || !ch_it->is_array() || ch_it->empty() ||
      ch_it->size() > max_channels_per_message) {
    return invalid("bad_request", "\"channels\" must be an array of 1 to " +
                                      std::to_string(max_channels_per_message) + " channel names");
  }
  r.channels.reserve(ch_it->size());
  for (const auto& c : *ch_it) {
    if (!c.is_string()) return invalid("bad_request", "channel names must be strings");
    const auto& name = c.get_ref<const std::string&>();
    const int idx = st.channel_index(name);
    if (idx < 0) {
      return invalid("unknown_channel", "unknown channel '" + name.substr(0, 64) +
                                            "' (premium.<U>, surface.<U> or forecast.<U>" +
                                            " of a served underlying)");
    }
    const auto i = static_cast<std::size_t>(idx);
    if (std::find(r.channels.begin(), r.channels.end(), i) == r.channels.end()) {
      r.channels.push_back(i);
    }
  }
  r.op = subscribe ? ws_op::subscribe : ws_op::unsubscribe;
  return r;
}

}  // namespace vrp::service
