#pragma once

// Loopback servers for the history download tests: the in-process replay exchange on its own
// thread, a scripted WebSocket server (answers each client frame with frames the test chooses),
// and the recording's chart series parsed independently of the replay library.

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vrp/feeds/deribit/history.hpp"
#include "vrp/feeds/replay/recording.hpp"
#include "vrp/feeds/replay/server.hpp"

namespace vrp::feeds::history_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

inline const std::string data_dir = VRP_TEST_DATA_DIR;
inline const std::string source_dir = VRP_SOURCE_DIR;

// One {"chart":{...}} line of a recording, read with nlohmann_json.
struct expected_series {
  std::string resolution;
  std::vector<deribit::chart_bar> bars;
};

inline std::map<std::string, expected_series> read_chart_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::map<std::string, expected_series> out;
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"chart\"") == std::string::npos) continue;
    const json j = json::parse(line);
    if (!j.contains("chart")) continue;
    const json& c = j["chart"];
    expected_series s;
    s.resolution = c["resolution"].get<std::string>();
    const auto& ticks = c["ticks"];
    for (std::size_t i = 0; i < ticks.size(); ++i) {
      s.bars.push_back({ticks[i].get<std::int64_t>(), c["open"][i].get<double>(),
                        c["high"][i].get<double>(), c["low"][i].get<double>(),
                        c["close"][i].get<double>(), c["volume"][i].get<double>()});
    }
    out[c["instrument_name"].get<std::string>()] = std::move(s);
  }
  return out;
}

// The replay exchange on its own io_context thread.
class replay_exchange {
 public:
  explicit replay_exchange(const std::string& recording_path, std::string cert_file = "",
                           std::string key_file = "") {
    auto loaded = replay::load_recording_file(recording_path);
    if (!loaded.ok()) throw std::runtime_error("recording: " + loaded.error.message);
    replay::server_config cfg;
    cfg.listen_port = 0;
    cfg.tls_cert_file = std::move(cert_file);
    cfg.tls_key_file = std::move(key_file);
    cfg.log = [](std::string_view) {};
    server_ = std::make_unique<replay::server>(
        io_, std::make_shared<const replay::recording>(std::move(*loaded.value)), cfg);
    if (std::string err = server_->start(); !err.empty()) throw std::runtime_error(err);
    tls_ = !cfg.tls_cert_file.empty();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~replay_exchange() {
    asio::post(io_, [this] {
      server_->stop();
      io_.stop();
    });
    thread_.join();
    server_.reset();
  }
  replay_exchange(const replay_exchange&) = delete;
  replay_exchange& operator=(const replay_exchange&) = delete;

  std::string url(const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "wss://" : "ws://") + host + ":" +
           std::to_string(server_->local_port()) + "/ws/api/v2";
  }

 private:
  asio::io_context io_;
  std::unique_ptr<replay::server> server_;
  bool tls_ = false;
  std::thread thread_;
};

// A WebSocket server on its own thread that serves one connection at a time and answers each
// client frame with whatever `script` returns (nothing: the client waits). Requests are recorded.
class scripted_server {
 public:
  using script = std::function<std::vector<std::string>(const json& request)>;

  explicit scripted_server(script s)
      : script_(std::move(s)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
  }
  ~scripted_server() {
    stop_ = true;
    // Wakes the blocking accept.
    asio::io_context io;
    tcp::socket poke(io);
    beast::error_code ec;
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }
  scripted_server(const scripted_server&) = delete;
  scripted_server& operator=(const scripted_server&) = delete;

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws/api/v2"; }

  std::vector<json> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void run() {
    while (!stop_) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stop_ || ec) break;
      websocket::stream<tcp::socket> ws(std::move(socket));
      ws.accept(ec);
      if (ec) continue;
      ws.text(true);
      beast::flat_buffer buffer;
      for (;;) {
        buffer.clear();
        ws.read(buffer, ec);
        if (ec) break;
        const json request = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
        }
        for (const std::string& frame : script_(request)) {
          ws.write(asio::buffer(frame), ec);
          if (ec) break;
        }
        if (ec) break;
      }
    }
  }

  script script_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<json> requests_;
  std::thread thread_;
};

// A chart result in Deribit's shape for the given bars.
inline json chart_result_json(const std::vector<deribit::chart_bar>& bars) {
  json r = {{"status", bars.empty() ? "no_data" : "ok"}};
  for (const char* key : {"ticks", "open", "high", "low", "close", "volume", "cost"}) {
    r[key] = json::array();
  }
  for (const auto& b : bars) {
    r["ticks"].push_back(b.open_ms);
    r["open"].push_back(b.open);
    r["high"].push_back(b.high);
    r["low"].push_back(b.low);
    r["close"].push_back(b.close);
    r["volume"].push_back(b.volume);
    r["cost"].push_back(b.volume * b.close);
  }
  return r;
}

inline std::string response_frame(const json& request, const json& result) {
  return json{
      {"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", result}, {"usIn", 1}, {"usOut", 2},
      {"usDiff", 1},      {"testnet", false}}
      .dump();
}

}  // namespace vrp::feeds::history_test
