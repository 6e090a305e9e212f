#include "vrp/feeds/tls_server.hpp"

#include <boost/system/error_code.hpp>

namespace vrp::feeds {

namespace ssl = boost::asio::ssl;

std::string load_tls_server_context(ssl::context& ctx, const std::string& cert_file,
                                    const std::string& key_file) {
  if (cert_file.empty() || key_file.empty()) return "TLS needs both a certificate and a key file";
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use,
                  ec);
  if (ec) return "cannot set the TLS options: " + ec.message();
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) return "cannot load TLS certificate " + cert_file + ": " + ec.message();
  // Loaded after the certificate, so OpenSSL also rejects a key of another certificate here
  // ("key values mismatch").
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return "cannot load TLS key " + key_file + ": " + ec.message();
  return {};
}

}  // namespace vrp::feeds
