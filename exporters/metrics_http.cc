#include "exporters/metrics_http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "core/listen_address.h"
#include "core/log.h"
#include "exporters/http_encoding.h"

namespace vnetd::exporters {

Result<std::pair<std::string, uint16_t>> splitListen(const std::string& listen) {
  ListenAddressParse parsed = parseListenAddress(listen);
  if (!parsed.ok()) return plainError("metrics listen address " + listen + " " + parsed.problem);
  return std::pair{parsed.address.host, parsed.address.port};
}

Result<std::unique_ptr<MetricsHttp>> MetricsHttp::create(event_base* base, const std::string& listen,
                                                         const std::string& path, Render render) {
  auto where = splitListen(listen);
  if (!where) return where.error();
  std::unique_ptr<MetricsHttp> m(new MetricsHttp());
  m->host_ = where->first;
  m->path_ = path;
  m->render_ = std::move(render);
  m->http_ = evhttp_new(base);
  if (!m->http_) return plainError("metrics: cannot create the HTTP server");
  evhttp_set_allowed_methods(m->http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(m->http_, &MetricsHttp::handle, m.get());
  // A scraper that stalls must not hold a connection forever.
  evhttp_set_timeout(m->http_, 30);
  evhttp_bound_socket* bound = evhttp_bind_socket_with_handle(m->http_, m->host_.c_str(), where->second);
  if (!bound) return errnoError("metrics: cannot listen on " + listen);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return errnoError("metrics: getsockname");
  if (addr.ss_family == AF_INET) m->port_ = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  else if (addr.ss_family == AF_INET6) m->port_ = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  VNETD_LOG_INFO("metrics on http://%s%s%s:%u%s", m->host_.find(':') != std::string::npos ? "[" : "",
                 m->host_.c_str(), m->host_.find(':') != std::string::npos ? "]" : "", m->port_, path.c_str());
  return m;
}

MetricsHttp::~MetricsHttp() {
  if (http_) evhttp_free(http_);
}

void MetricsHttp::handle(evhttp_request* request, void* raw) {
  try {
    serve(request, static_cast<MetricsHttp*>(raw));
    return;
  } catch (const std::exception& e) {
    VNETD_LOG_ERROR("metrics: serving a request failed: %s; answered 500", e.what());
  } catch (...) {
    VNETD_LOG_ERROR("metrics: serving a request failed; answered 500");
  }
  evhttp_send_error(request, HTTP_INTERNAL, nullptr);
}

namespace {

// Every Accept-Encoding header of the request, joined with "," (RFC 9110 5.3: the same as
// one header listing them all).
std::string acceptEncoding(evhttp_request* request) {
  std::string joined;
  const evkeyvalq* in = evhttp_request_get_input_headers(request);
  for (const evkeyval* h = in ? in->tqh_first : nullptr; h; h = h->next.tqe_next) {
    if (evutil_ascii_strcasecmp(h->key, "Accept-Encoding") != 0) continue;
    if (!joined.empty()) joined += ',';
    joined += h->value;
  }
  return joined;
}

}  // namespace

void MetricsHttp::serve(evhttp_request* request, MetricsHttp* self) {
  const char* uri = evhttp_request_get_uri(request);
  evhttp_uri* parsed = uri ? evhttp_uri_parse(uri) : nullptr;
  std::string path = parsed && evhttp_uri_get_path(parsed) ? evhttp_uri_get_path(parsed) : "";
  if (parsed) evhttp_uri_free(parsed);

  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  // Owned here until sent: a throw below (render_, std::bad_alloc) must not leak it.
  std::unique_ptr<evbuffer, void (*)(evbuffer*)> body_owner(evbuffer_new(), evbuffer_free);
  evbuffer* body = body_owner.get();
  if (!body) {
    evhttp_send_error(request, HTTP_INTERNAL, nullptr);
    return;
  }
  int code = HTTP_OK;
  const char* reason = "OK";
  if (path == self->path_) {
    ++self->scrapes_;
    auto text = std::make_unique<std::string>(self->render_());
    // gzip when the scraper takes it (Prometheus always does): ~20 times fewer bytes, for
    // about half the time the page took to render (docs/metrics.md, Compression).
    if (acceptsGzip(acceptEncoding(request))) {
      auto gz = gzipCompress(*text);
      if (gz) {
        *text = std::move(*gz);
        evhttp_add_header(headers, "Content-Encoding", "gzip");
      } else {
        VNETD_LOG_WARN("metrics: %s; sent the page uncompressed", gz.error().message().c_str());
      }
    }
    // Handed to libevent by reference, not copied: at 1000 jails the text is 5 MB, and a
    // copy meant a fresh 5 MB chain (page faults included) per scrape. libevent frees it
    // once sent, or with the connection.
    if (evbuffer_add_reference(body, text->data(), text->size(),
                               [](const void*, size_t, void* owned) { delete static_cast<std::string*>(owned); },
                               text.get()) != 0) {
      evhttp_send_error(request, HTTP_INTERNAL, nullptr);
      return;
    }
    text.release();  // libevent's now
    evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    // Caches between scraper and vnetd must not hand a gzip body to a client that did not ask.
    evhttp_add_header(headers, "Vary", "Accept-Encoding");
  } else if (path == "/") {
    std::string page =
        "<!DOCTYPE html>\n<html><head><title>vnetd</title></head><body>\n<h1>vnetd</h1>\n"
        "<p>Per-jail network metrics for Prometheus: <a href=\"" +
        self->path_ + "\">" + self->path_ + "</a></p>\n</body></html>\n";
    evhttp_add_header(headers, "Content-Type", "text/html; charset=utf-8");
    evbuffer_add(body, page.data(), page.size());
  } else {
    code = HTTP_NOTFOUND;
    reason = "Not Found";
    static constexpr char kText[] = "not found; metrics are at the metrics path\n";
    evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
    evbuffer_add(body, kText, sizeof kText - 1);
  }
  evhttp_send_reply(request, code, reason, body);
}

}  // namespace vnetd::exporters
