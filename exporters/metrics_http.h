// The /metrics endpoint: libevent's evhttp on the daemon's own loop (one event loop for
// everything; the FreeBSD port of prometheus-cpp has no Exposer, and it would bring its
// own threads). Serves a landing page at "/" linking to the metrics path, the text
// exposition at the metrics path, 404 elsewhere, 405 for anything but GET/HEAD.
//
// Threading: loop thread (create, destroy, and the render callback runs on it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"

struct event_base;
struct evhttp;
struct evhttp_request;

namespace vnetd::exporters {

// "127.0.0.1:10090" / "[::1]:10090" / "host:0" → (host, port), by the rule the config
// loader checked the text with (core/listen_address.h parseListenAddress).
Result<std::pair<std::string, uint16_t>> splitListen(const std::string& listen);

class MetricsHttp {
 public:
  // One scrape: the text exposition (Prometheus text format 0.0.4).
  using Render = std::function<std::string()>;

  // Binds `listen` (port 0: any free port; see port()).
  static Result<std::unique_ptr<MetricsHttp>> create(event_base* base, const std::string& listen,
                                                     const std::string& path, Render render);
  ~MetricsHttp();
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // The port actually bound.
  uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }
  uint64_t scrapes() const { return scrapes_; }

 private:
  MetricsHttp() = default;
  // libevent's (C) callback: the exception boundary around serve() — nothing may throw
  // through libevent's frames; a failing scrape is logged and answered 500.
  static void handle(::evhttp_request* request, void* self);
  static void serve(::evhttp_request* request, MetricsHttp* self);

  evhttp* http_ = nullptr;
  std::string host_;
  uint16_t port_ = 0;
  std::string path_;
  Render render_;
  uint64_t scrapes_ = 0;
};

}  // namespace vnetd::exporters
