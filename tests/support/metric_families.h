// Reading prometheus-cpp MetricFamily values in unit tests of the collectors.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace vnetd::testing {

// The family called `name`; null when there is none.
inline const prometheus::MetricFamily* findFamily(const std::vector<prometheus::MetricFamily>& families,
                                                  const std::string& name) {
  for (const auto& f : families)
    if (f.name == name) return &f;
  return nullptr;
}

// The value of label `name` of one sample; "" when it has no such label.
inline std::string labelValue(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& l : metric.label)
    if (l.name == name) return l.value;
  return "";
}

}  // namespace vnetd::testing
