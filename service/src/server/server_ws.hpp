#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>

#include "server/server_state.hpp"

namespace vrp::service {

// Completes the WebSocket handshake of `req` (already authorized and routed to /v1/stream) and
// serves the stream protocol on the connection.
void run_ws_session(std::shared_ptr<server_state> st, boost::beast::tcp_stream stream,
                    boost::beast::http::request<boost::beast::http::string_body> req,
                    connection_slot slot);

}  // namespace vrp::service
