#pragma once

// The HTTP request handling of the API server without a connection: routing, authorization and
// the endpoints' answers for one parsed request, as http_session runs them. For the fuzz target
// (tests/fuzz/fuzz_http_request.cpp) and tests; the server itself goes through http_session.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>

#include "server/server_state.hpp"

namespace vrp::service {

struct http_answer {
  boost::beast::http::response<boost::beast::http::string_body> response;
  bool upgrade = false;  // an accepted /v1/stream upgrade (the session hands over, no response)
  int answers = 0;       // responses and hand-overs the handler produced (always 1)
};

// Answers `req` as a connection of `st` would; `stopping` as if the server were stopping. Runs on
// the io thread of `st` (or with no io thread running), like a session.
http_answer answer_http_request(std::shared_ptr<server_state> st,
                                boost::beast::http::request<boost::beast::http::string_body>& req,
                                bool stopping = false);

}  // namespace vrp::service
