// vrp-replayd: the replay exchange (ARCHITECTURE.md §5.3). Serves Deribit's JSON-RPC WebSocket API
// on loopback and plays a recording; see feeds/include/vrp/feeds/replay/server.hpp.
//
//   vrp-replayd --recording FILE [--listen HOST:PORT] [--speed X] [--loop N] [--max-gap-ms MS]
//               [--min-heartbeat-s S] [--tls-cert PEM --tls-key PEM]
//
// When ready it prints one line to stdout, {"listening":"HOST:PORT"}, so callers can use port 0.

#include <zlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "vrp/feeds/replay/recording.hpp"
#include "vrp/feeds/replay/server.hpp"

namespace {

namespace po = boost::program_options;
namespace replay = vrp::feeds::replay;

void log_line(std::string_view msg) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::cerr << "ts=" << ts << " app=vrp-replayd " << msg << '\n';
}

// Reads a file whole; zlib's gzread passes uncompressed files through unchanged.
bool read_maybe_gzip(const std::string& path, std::string& out, std::string& error) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = "cannot open " + path;
    return false;
  }
  char buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int errnum = 0;
      error = std::string("cannot read ") + path + ": " + gzerror(f, &errnum);
      gzclose(f);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  gzclose(f);
  return true;
}

bool split_host_port(const std::string& s, std::string& host, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto p = std::string_view(s).substr(colon + 1);
  unsigned v = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), v);
  if (r.ec != std::errc{} || r.ptr != p.data() + p.size() || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string recording_path;
  std::string listen = "127.0.0.1:9101";
  replay::server_config cfg;
  double speed = 1.0;
  std::uint32_t loops = 1;
  long max_gap_ms = 2000;
  int min_heartbeat_s = 10;

  po::options_description desc("vrp-replayd options");
  desc.add_options()("help,h", "show this help")(
      "recording", po::value(&recording_path)->required(),
      "recording file (.jsonl, .capture.jsonl, .frames.jsonl; optionally .gz)")(
      "listen", po::value(&listen)->default_value(listen), "HOST:PORT to listen on (port 0: free)")(
      "speed", po::value(&speed)->default_value(speed), "playback speed factor; 0: unpaced")(
      "loop", po::value(&loops)->default_value(loops), "plays of the recording; 0: forever")(
      "max-gap-ms", po::value(&max_gap_ms)->default_value(max_gap_ms),
      "cap of any single wait between frames")(
      "min-heartbeat-s", po::value(&min_heartbeat_s)->default_value(min_heartbeat_s),
      "smallest interval public/set_heartbeat accepts")("tls-cert", po::value(&cfg.tls_cert_file),
                                                        "PEM certificate chain: serve wss://")(
      "tls-key", po::value(&cfg.tls_key_file), "PEM private key");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help") != 0U) {
      std::cout << desc << '\n';
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "vrp-replayd: " << e.what() << "\n" << desc << '\n';
    return 2;
  }
  if (!(speed >= 0.0)) {
    std::cerr << "vrp-replayd: --speed must be >= 0 (got " << speed << ")\n";
    return 2;
  }
  if (max_gap_ms < 0) {
    std::cerr << "vrp-replayd: --max-gap-ms must be >= 0 (got " << max_gap_ms << ")\n";
    return 2;
  }
  if (min_heartbeat_s < 1) {
    std::cerr << "vrp-replayd: --min-heartbeat-s must be >= 1 (got " << min_heartbeat_s << ")\n";
    return 2;
  }
  if (!split_host_port(listen, cfg.listen_host, cfg.listen_port)) {
    std::cerr << "vrp-replayd: --listen must be HOST:PORT (got '" << listen << "')\n";
    return 2;
  }
  cfg.speed = speed;
  cfg.loops = loops;
  cfg.max_gap = std::chrono::milliseconds(max_gap_ms);
  cfg.min_heartbeat_s = min_heartbeat_s;
  cfg.log = log_line;

  std::string text;
  std::string error;
  if (!read_maybe_gzip(recording_path, text, error)) {
    std::cerr << "vrp-replayd: " << error << '\n';
    return 1;
  }
  auto loaded = replay::parse_recording(text);
  text.clear();
  text.shrink_to_fit();
  if (!loaded.ok()) {
    std::cerr << "vrp-replayd: " << recording_path;
    if (loaded.error.line != 0) std::cerr << ":" << loaded.error.line;
    std::cerr << ": " << loaded.error.message << '\n';
    return 1;
  }
  auto rec = std::make_shared<const replay::recording>(std::move(*loaded.value));
  for (const auto& w : rec->warnings) log_line("event=recording_warning detail=\"" + w + "\"");
  log_line("event=recording_loaded form=" + std::string(replay::recording_form_name(rec->form)) +
           " frames=" + std::to_string(rec->frames.size()) +
           " channels=" + std::to_string(rec->channels.size()) +
           " instruments=" + std::to_string(rec->instruments.size()) + " charts=" +
           std::to_string(rec->charts.size()) + " skipped=" + std::to_string(rec->skipped));

  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(cfg.listen_host, ec);
  if (!ec && !addr.is_loopback()) {
    log_line("level=warn event=non_loopback_listen host=" + cfg.listen_host +
             " note=\"the replay exchange has no authentication\"");
  }

  boost::asio::io_context ioc;
  replay::server srv(ioc, rec, cfg);
  if (auto err = srv.start(); !err.empty()) {
    std::cerr << "vrp-replayd: " << err << '\n';
    return 1;
  }
  std::cout << "{\"listening\":\"" << srv.local_address() << "\"}" << std::endl;
  log_line("event=listening address=" + srv.local_address() +
           (cfg.tls_cert_file.empty() ? " tls=false" : " tls=true"));

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(ioc);
  const auto deadline_holder = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> poll_drain = [&] {
    if (srv.connection_count() == 0) return;  // nothing left: run() returns on its own
    if (std::chrono::steady_clock::now() >= *deadline_holder) {
      ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](boost::system::error_code e) {
      if (!e) poll_drain();
    });
  };
  signals.async_wait([&](boost::system::error_code e, int sig) {
    if (e) return;
    log_line("event=signal signal=" + std::to_string(sig) + " action=shutdown");
    srv.stop();
    *deadline_holder = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    poll_drain();
  });
  ioc.run();
  log_line("event=exit");
  return 0;
}
