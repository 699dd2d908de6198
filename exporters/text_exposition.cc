#include "exporters/text_exposition.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string_view>

namespace vnetd::exporters {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// TextSerializer imbues the classic locale and sets the stream's precision to
// max_digits10 - 1 = 16 significant digits: "%.16g". Counters and most gauges are whole
// numbers, for which "%.16g" is the plain integer up to 1e16 (16 digits): to_chars of the
// integer is the same text without printf's parsing.
void appendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "Nan";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
    return;
  }
  char buf[32];
  if (v >= 0 && v < 1e16 && !std::signbit(v) && v == std::floor(v)) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<uint64_t>(v));
    out.append(buf, r.ptr);
    return;
  }
  int n = std::snprintf(buf, sizeof buf, "%.*g", std::numeric_limits<double>::max_digits10 - 1, v);
  out.append(buf, static_cast<size_t>(n));
}

void appendInteger(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Label values: backslash, double quote and line feed escaped with a backslash.
void appendLabelValue(std::string& out, std::string_view v) {
  size_t plain = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out.append(v.data() + plain, i - plain);
    out += '\\';
    out += c == '\n' ? 'n' : c;
    plain = i + 1;
  }
  out.append(v.data() + plain, v.size() - plain);
}

// HELP text: backslash and line feed escaped (the format's rule; a raw line feed would
// end the comment and start a line no parser accepts).
void appendHelp(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// "name<suffix>{labels[,extra="value"]} " — braces only when there is a label.
void appendHead(std::string& out, const MetricFamily& f, const ClientMetric& m, std::string_view suffix = {},
                std::string_view extra_name = {}, std::string_view extra_value = {}) {
  out += f.name;
  out += suffix;
  if (!m.label.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    for (const auto& l : m.label) {
      if (!first) out += ',';
      first = false;
      out += l.name;
      out += "=\"";
      appendLabelValue(out, l.value);
      out += '"';
    }
    if (!extra_name.empty()) {
      if (!first) out += ',';
      out += extra_name;
      out += "=\"";
      out += extra_value;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

void appendTail(std::string& out, const ClientMetric& m) {
  if (m.timestamp_ms != 0) {
    out += ' ';
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, m.timestamp_ms);
    out.append(buf, r.ptr);
  }
  out += '\n';
}

std::string numberText(double v) {
  std::string s;
  appendNumber(s, v);
  return s;
}

void appendMetric(std::string& out, const MetricFamily& f, const ClientMetric& m) {
  switch (f.type) {
    case MetricType::Counter:
      appendHead(out, f, m);
      appendNumber(out, m.counter.value);
      appendTail(out, m);
      break;
    case MetricType::Gauge:
      appendHead(out, f, m);
      appendNumber(out, m.gauge.value);
      appendTail(out, m);
      break;
    case MetricType::Untyped:
      appendHead(out, f, m);
      appendNumber(out, m.untyped.value);
      appendTail(out, m);
      break;
    case MetricType::Summary:
      appendHead(out, f, m, "_count");
      appendInteger(out, m.summary.sample_count);
      appendTail(out, m);
      appendHead(out, f, m, "_sum");
      appendNumber(out, m.summary.sample_sum);
      appendTail(out, m);
      for (const auto& q : m.summary.quantile) {
        appendHead(out, f, m, {}, "quantile", numberText(q.quantile));
        appendNumber(out, q.value);
        appendTail(out, m);
      }
      break;
    case MetricType::Histogram: {
      appendHead(out, f, m, "_count");
      appendInteger(out, m.histogram.sample_count);
      appendTail(out, m);
      appendHead(out, f, m, "_sum");
      appendNumber(out, m.histogram.sample_sum);
      appendTail(out, m);
      double last = -std::numeric_limits<double>::infinity();
      for (const auto& b : m.histogram.bucket) {
        appendHead(out, f, m, "_bucket", "le", numberText(b.upper_bound));
        last = b.upper_bound;
        appendInteger(out, b.cumulative_count);
        appendTail(out, m);
      }
      if (last != std::numeric_limits<double>::infinity()) {
        appendHead(out, f, m, "_bucket", "le", "+Inf");
        appendInteger(out, m.histogram.sample_count);
        appendTail(out, m);
      }
      break;
    }
  }
}

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Summary: return "summary";
    case MetricType::Untyped: return "untyped";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

void appendExposition(std::string& out, const std::vector<MetricFamily>& families) {
  for (const auto& f : families) {
    if (!f.help.empty()) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      appendHelp(out, f.help);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += typeName(f.type);
    out += '\n';
    for (const auto& m : f.metric) appendMetric(out, f, m);
  }
}

}  // namespace vnetd::exporters
