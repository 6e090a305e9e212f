// The dashboard's static routes: the lookup and conditional-request rules on hand-made tables, then
// the files embedded into this build as vrpd serves them over loopback (content types, ETags
// checked against an independent SHA-256 of the body, 304, HEAD, 405, no path tricks, security
// headers, no token needed), and the WebSocket token in the query for browsers.

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "server_api_support.hpp"
#include "vrp/web/assets.hpp"

namespace vrp::service::testing {
namespace {

using web::asset;
using web::static_status;

// Sorted by path, as the generated table is.
constexpr asset sample_table[] = {
    {"/", "text/html; charset=utf-8", "\"aaaa\"", "no-cache", "<!doctype html>"},
    {"/assets/app-ABCDEFGH.js", "text/javascript; charset=utf-8", "\"bbbb\"",
     "public, max-age=31536000, immutable", "console.log(1)"},
    {"/assets/app-ABCDEFGH.js.map", "application/json", "\"cccc\"", "no-cache", "{}"},
};

TEST(server_static_rules, lookup_is_exact_match_only) {
  const std::span<const asset> t(sample_table);
  ASSERT_NE(web::find_asset(t, "/"), nullptr);
  EXPECT_EQ(web::find_asset(t, "/")->etag, "\"aaaa\"");
  ASSERT_NE(web::find_asset(t, "/assets/app-ABCDEFGH.js"), nullptr);
  EXPECT_EQ(web::find_asset(t, "/assets/app-ABCDEFGH.js")->body, "console.log(1)");
  ASSERT_NE(web::find_asset(t, "/assets/app-ABCDEFGH.js.map"), nullptr);
  for (const char* p :
       {"", "/index.html", "/assets", "/assets/", "/assets/app-ABCDEFGH.j",
        "/assets/app-ABCDEFGH.js/", "/assets/../assets/app-ABCDEFGH.js",
        "/assets/./app-ABCDEFGH.js", "/assets/%2e%2e/app-ABCDEFGH.js", "//assets/app-ABCDEFGH.js",
        "/ASSETS/app-ABCDEFGH.js", "/assets/app-abcdefgh.js", "/../etc/passwd"}) {
    EXPECT_EQ(web::find_asset(t, p), nullptr) << p;
  }
  EXPECT_EQ(web::find_asset({}, "/"), nullptr);
}

TEST(server_static_rules, if_none_match_compares_weakly_over_the_list) {
  EXPECT_TRUE(web::etag_matches("\"bbbb\"", "\"bbbb\""));
  EXPECT_TRUE(web::etag_matches("W/\"bbbb\"", "\"bbbb\""));  // RFC 9110 §13.1.2: weak comparison
  EXPECT_TRUE(web::etag_matches("\"x\", \"bbbb\"", "\"bbbb\""));
  EXPECT_TRUE(web::etag_matches("\"x\",W/\"bbbb\" ,\"y\"", "\"bbbb\""));
  EXPECT_TRUE(web::etag_matches("*", "\"bbbb\""));
  EXPECT_TRUE(web::etag_matches(" \t\"bbbb\"\t", "\"bbbb\""));
  EXPECT_FALSE(web::etag_matches("\"bbb\"", "\"bbbb\""));
  EXPECT_FALSE(web::etag_matches("bbbb", "\"bbbb\""));  // unquoted is another tag
  EXPECT_FALSE(web::etag_matches("\"bbbb", "\"bbbb\""));
  EXPECT_FALSE(web::etag_matches("", "\"bbbb\""));
  EXPECT_FALSE(web::etag_matches(",,", "\"bbbb\""));
  EXPECT_FALSE(web::etag_matches("\"x\", \"y\"", "\"bbbb\""));
  EXPECT_FALSE(web::etag_matches("\"\"", ""));
}

TEST(server_static_rules, replies_by_method_path_and_validator) {
  const std::span<const asset> t(sample_table);
  const auto js = "/assets/app-ABCDEFGH.js";
  auto r = web::serve_static(t, "GET", js, "");
  EXPECT_EQ(r.status, static_status::ok);
  ASSERT_NE(r.file, nullptr);
  EXPECT_EQ(r.file->path, js);
  EXPECT_EQ(web::serve_static(t, "HEAD", js, "").status, static_status::ok);
  EXPECT_EQ(web::serve_static(t, "GET", js, "\"bbbb\"").status, static_status::not_modified);
  EXPECT_EQ(web::serve_static(t, "HEAD", js, "W/\"bbbb\"").status, static_status::not_modified);
  EXPECT_EQ(web::serve_static(t, "GET", js, "\"aaaa\"").status, static_status::ok);
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get", "PATCH"}) {
    EXPECT_EQ(web::serve_static(t, m, js, "").status, static_status::method_not_allowed) << m;
    EXPECT_EQ(web::serve_static(t, m, "/", "").status, static_status::method_not_allowed) << m;
  }
  EXPECT_EQ(web::serve_static(t, "GET", "/v1/premium", "").status, static_status::not_static);
  EXPECT_EQ(web::serve_static(t, "GET", "/assets/nope.js", "").status, static_status::not_static);
  EXPECT_EQ(web::serve_static(t, "GET", "/", "").status, static_status::ok);
}

TEST(server_static_rules, empty_table_says_not_built_only_for_the_page) {
  EXPECT_EQ(web::serve_static({}, "GET", "/", "").status, static_status::not_built);
  EXPECT_EQ(web::serve_static({}, "HEAD", "/", "*").status, static_status::not_built);
  EXPECT_EQ(web::serve_static({}, "POST", "/", "").status, static_status::method_not_allowed);
  EXPECT_EQ(web::serve_static({}, "GET", "/assets/app-ABCDEFGH.js", "").status,
            static_status::not_static);
  EXPECT_NE(web::not_built_message.find("npm ci --prefix web"), std::string_view::npos);
}

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), md.data(), &n, EVP_sha256(), nullptr), 1);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// One request with extra headers; HEAD responses are parsed without a body.
http::response<http::string_body> request(
    const tcp::endpoint& ep, http::verb method, std::string_view target,
    std::vector<std::pair<http::field, std::string>> headers = {}) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(ep);
  http::request<http::string_body> req(method, beast::string_view(target.data(), target.size()),
                                       11);
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [f, v] : headers) req.set(f, v);
  req.keep_alive(false);
  if (method == http::verb::post) {
    req.body() = "x";
    req.prepare_payload();
  }
  http::write(socket, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (method == http::verb::head) parser.skip(true);
  http::read(socket, buf, parser);
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  return parser.release();
}

std::string header(const http::response<http::string_body>& res, std::string_view name) {
  const auto it = res.find(beast::string_view(name.data(), name.size()));
  return it == res.end() ? std::string() : std::string(it->value());
}

void expect_security_headers(const http::response<http::string_body>& res, std::string_view what) {
  const auto csp = header(res, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << what << ": " << csp;
  EXPECT_NE(csp.find("connect-src 'self' ws: wss:"), std::string::npos) << what << ": " << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << what;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << what;
  EXPECT_EQ(header(res, "X-Content-Type-Options"), "nosniff") << what;
  EXPECT_EQ(header(res, "Referrer-Policy"), "no-referrer") << what;
}

TEST(server_static_routes, page_is_served_or_a_503_says_how_to_build_it) {
  test_server srv;
  const auto res = request(srv.ep, http::verb::get, "/");
  if (web::embedded_assets().empty()) {
    EXPECT_EQ(web::embedded_assets_origin(), "none");
    ASSERT_EQ(res.result_int(), 503);
    EXPECT_EQ(res[http::field::content_type], "application/json");
    const auto j = parse_body(res);
    EXPECT_EQ(j["error"]["code"], "dashboard_not_built");
    EXPECT_NE(j["error"]["message"].get<std::string>().find("npm ci --prefix web"),
              std::string::npos);
    GTEST_SKIP() << "the dashboard is not built into this binary (no Node.js or web/node_modules)";
  }
  ASSERT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[http::field::cache_control], "no-cache");
  expect_security_headers(res, "/");
  // The ETag is the SHA-256 of the served bytes (computed here, independently of the build).
  const auto etag = header(res, "ETag");
  ASSERT_EQ(etag.size(), 34U) << etag;
  EXPECT_EQ(etag, "\"" + sha256_hex(res.body()).substr(0, 32) + "\"");
  EXPECT_NE(res.body().find("id=\"chart-smile\""), std::string::npos);
  // CSP-friendly: no inline script, and only our own files.
  EXPECT_EQ(std::regex_search(res.body(), std::regex("<script>|<script [^>]*>[^<]")), false);
  EXPECT_EQ(res.body().find("http://"), std::string::npos);
  EXPECT_EQ(res.body().find("https://"), std::string::npos);
}

TEST(server_static_routes, every_referenced_asset_is_served_with_its_type_and_validators) {
  test_server srv;
  if (web::embedded_assets().empty()) GTEST_SKIP() << "the dashboard is not built into this binary";
  const auto page = request(srv.ep, http::verb::get, "/").body();
  const std::regex ref("(?:src|href)=\"(/[^\"]*)\"");
  std::set<std::string> refs;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), ref); it != std::sregex_iterator();
       ++it) {
    refs.insert((*it)[1].str());
  }
  std::set<std::string> kinds;
  for (const auto& path : refs) {
    EXPECT_EQ(path.rfind("/assets/", 0), 0U) << path;
    const auto res = request(srv.ep, http::verb::get, path);
    ASSERT_EQ(res.result_int(), 200) << path;
    const auto type = std::string(res[http::field::content_type]);
    if (path.ends_with(".js")) {
      EXPECT_EQ(type, "text/javascript; charset=utf-8") << path;
      kinds.insert("js");
    } else if (path.ends_with(".css")) {
      EXPECT_EQ(type, "text/css; charset=utf-8") << path;
      kinds.insert("css");
    } else if (path.ends_with(".svg")) {
      EXPECT_EQ(type, "image/svg+xml") << path;
    }
    EXPECT_EQ(res[http::field::cache_control], "public, max-age=31536000, immutable") << path;
    EXPECT_EQ(header(res, "ETag"), "\"" + sha256_hex(res.body()).substr(0, 32) + "\"") << path;
    EXPECT_EQ(std::to_string(res.body().size()), std::string(res[http::field::content_length]));
    expect_security_headers(res, path);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"css", "js"}));
  // Each served file is one of the table's, byte for byte.
  for (const auto& a : web::embedded_assets()) {
    EXPECT_EQ(request(srv.ep, http::verb::get, a.path).body(), a.body) << a.path;
  }
}

TEST(server_static_routes, conditional_head_and_method_rules) {
  test_server srv;
  if (web::embedded_assets().empty()) GTEST_SKIP() << "the dashboard is not built into this binary";
  const auto full = request(srv.ep, http::verb::get, "/");
  const auto etag = header(full, "ETag");
  ASSERT_FALSE(etag.empty());

  for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    const auto res = request(srv.ep, http::verb::get, "/", {{http::field::if_none_match, inm}});
    EXPECT_EQ(res.result_int(), 304) << inm;
    EXPECT_TRUE(res.body().empty()) << inm;
    EXPECT_EQ(header(res, "ETag"), etag) << inm;
  }
  const auto changed =
      request(srv.ep, http::verb::get, "/", {{http::field::if_none_match, "\"stale\""}});
  EXPECT_EQ(changed.result_int(), 200);
  EXPECT_EQ(changed.body(), full.body());

  const auto head = request(srv.ep, http::verb::head, "/");
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(std::string(head[http::field::content_length]), std::to_string(full.body().size()));
  EXPECT_EQ(header(head, "ETag"), etag);
  EXPECT_TRUE(head.body().empty());

  for (const auto method : {http::verb::post, http::verb::put, http::verb::delete_}) {
    const auto res = request(srv.ep, method, "/");
    EXPECT_EQ(res.result_int(), 405);
    EXPECT_EQ(res[http::field::allow], "GET, HEAD");
    EXPECT_EQ(parse_body(res)["error"]["code"], "method_not_allowed");
  }
  // The JSON endpoints still take GET only.
  const auto api = request(srv.ep, http::verb::head, "/healthz");
  EXPECT_EQ(api.result_int(), 405);
  EXPECT_EQ(api[http::field::allow], "GET");
}

TEST(server_static_routes, other_paths_are_not_files) {
  test_server srv;
  std::string js;
  for (const auto& a : web::embedded_assets()) {
    if (a.path.ends_with(".js")) js = std::string(a.path);
  }
  std::vector<std::string> targets = {"/index.html",
                                      "/assets",
                                      "/assets/",
                                      "/assets/../",
                                      "/..%2f..%2fetc/passwd",
                                      "/assets/%2e%2e/%2e%2e/etc/passwd",
                                      "//",
                                      "/web/dist/index.html",
                                      "/CMakeLists.txt"};
  if (!js.empty()) {
    targets.push_back(js + "/");
    targets.push_back("/assets/../" + js.substr(8));
    targets.push_back("/assets/./" + js.substr(8));
    targets.push_back("/ASSETS/" + js.substr(8));
  }
  for (const auto& t : targets) {
    const auto res = request(srv.ep, http::verb::get, t);
    EXPECT_EQ(res.result_int(), 404) << t;
    EXPECT_EQ(parse_body(res)["error"]["code"], "not_found") << t;
  }
  // A query string does not change which file "/" is (the page reads ?token= itself).
  if (!web::embedded_assets().empty()) {
    EXPECT_EQ(request(srv.ep, http::verb::get, "/?token=abc&underlying=ETH").result_int(), 200);
  }
}

TEST(server_static_routes, files_need_no_token_but_the_data_still_does) {
  auto cfg = default_config();
  cfg.token = "s3cret-token";
  test_server srv(cfg);
  const auto page = request(srv.ep, http::verb::get, "/");
  EXPECT_EQ(page.result_int(), web::embedded_assets().empty() ? 503 : 200);
  for (const auto& a : web::embedded_assets()) {
    EXPECT_EQ(request(srv.ep, http::verb::get, a.path).result_int(), 200) << a.path;
  }
  EXPECT_EQ(request(srv.ep, http::verb::get, "/metrics").result_int(), 401);
  EXPECT_EQ(request(srv.ep, http::verb::get, "/nope").result_int(), 401);
  // The query token is for the WebSocket upgrade only.
  EXPECT_EQ(request(srv.ep, http::verb::get, "/metrics?access_token=s3cret-token").result_int(),
            401);
  EXPECT_EQ(request(srv.ep, http::verb::get, "/v1/premium?underlying=BTC&access_token=s3cret-token")
                .result_int(),
            401);
}

// A browser's WebSocket: no Authorization header, the token in the query.
beast::error_code ws_handshake(const tcp::endpoint& ep, const std::string& target,
                               std::string* first_reply = nullptr) {
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(ep);
  beast::error_code ec;
  ws.handshake("127.0.0.1", target, ec);
  if (ec || first_reply == nullptr) return ec;
  const std::string sub = R"({"op":"subscribe","channels":["premium.BTC"]})";
  ws.write(asio::buffer(sub), ec);
  if (ec) return ec;
  beast::flat_buffer buf;
  ws.read(buf, ec);
  if (!ec) *first_reply = beast::buffers_to_string(buf.data());
  ws.close(websocket::close_code::normal, ec);
  return {};
}

TEST(server_static_routes, websocket_takes_the_token_as_access_token_in_the_query) {
  auto cfg = default_config();
  cfg.token = "s3cret-token";
  test_server srv(cfg);
  std::string reply;
  EXPECT_FALSE(ws_handshake(srv.ep, "/v1/stream?access_token=s3cret-token", &reply));
  EXPECT_EQ(json::parse(reply), json::parse(R"({"op":"subscribed","channels":["premium.BTC"]})"));
  // Percent-encoded like encodeURIComponent would.
  EXPECT_FALSE(ws_handshake(srv.ep, "/v1/stream?x=1&access_token=s3cret%2Dtoken"));
  for (const char* bad :
       {"/v1/stream", "/v1/stream?access_token=", "/v1/stream?access_token=s3cret",
        "/v1/stream?access_token=s3cret-token-longer", "/v1/stream?token=s3cret-token",
        "/v1/stream?access_token=%zz"}) {
    EXPECT_TRUE(ws_handshake(srv.ep, bad)) << bad;
  }
  EXPECT_TRUE(test_server::eventually([&] { return srv.server.stats().ws_sessions == 0; }));
}

}  // namespace
}  // namespace vrp::service::testing
