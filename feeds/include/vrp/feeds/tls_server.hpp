#pragma once

// The server side of TLS, shared by the replay exchange and the vrpd API server: a context that
// speaks TLS 1.2 and 1.3 only, with a PEM certificate chain and its private key.

#include <boost/asio/ssl/context.hpp>
#include <string>

namespace vrp::feeds {

// Loads `cert_file` (PEM chain, leaf first) and `key_file` (unencrypted PEM key) into `ctx`, a
// tls_server context. Returns an empty string, or what is wrong: a file that cannot be read or
// parsed, or a key that does not belong to the certificate.
std::string load_tls_server_context(boost::asio::ssl::context& ctx, const std::string& cert_file,
                                    const std::string& key_file);

}  // namespace vrp::feeds
