#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <type_traits>

#include "server/server_state.hpp"

namespace vrp::service {

// The two kinds of connection: plain TCP, and TLS over TCP (api.tls_cert_file is set).
using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
template <class Stream>
inline constexpr bool is_tls_stream = std::is_same_v<Stream, tls_stream>;

// Completes the WebSocket handshake of `req` (already authorized and routed to /v1/stream) and
// serves the stream protocol on the connection (after the TLS handshake, for a tls_stream).
void run_ws_session(std::shared_ptr<server_state> st, plain_stream stream,
                    boost::beast::http::request<boost::beast::http::string_body> req,
                    connection_slot slot);
void run_ws_session(std::shared_ptr<server_state> st, tls_stream stream,
                    boost::beast::http::request<boost::beast::http::string_body> req,
                    connection_slot slot);

}  // namespace vrp::service
