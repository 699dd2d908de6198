// Reading a Grafana dashboard JSON the way Grafana lays it out: panels at the top level
// and inside rows (a collapsed row keeps its panels in its own "panels"), each with its
// PromQL targets. Shared by the offline lint (dashboard_lint_test) and the test that runs
// every query against a real Prometheus (integration/dashboard_test).
#pragma once

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace vnetd::testing::grafana {

using Json = nlohmann::json;

// The parsed file; a discarded (null) value when it is not JSON.
inline Json loadDashboard(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str(), nullptr, false);
}

inline std::string str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// Every panel, rows included, in file order.
inline void forEachPanel(const Json& dashboard, const std::function<void(const Json&)>& fn) {
  if (!dashboard.is_object() || !dashboard.contains("panels") || !dashboard["panels"].is_array()) return;
  for (const auto& p : dashboard["panels"]) {
    fn(p);
    if (p.is_object() && p.contains("panels") && p["panels"].is_array())
      for (const auto& inner : p["panels"]) fn(inner);
  }
}

inline bool isRow(const Json& panel) { return str(panel, "type") == "row"; }

struct PanelQuery {
  std::string panel;    // the panel's title
  std::string ref_id;   // the target's refId
  std::string expr;     // PromQL with Grafana's variables still in it
  bool instant = false; // Grafana runs it as an instant query (else over the time range)
};

// The PromQL targets of every non-row panel.
inline std::vector<PanelQuery> panelQueries(const Json& dashboard) {
  std::vector<PanelQuery> out;
  forEachPanel(dashboard, [&](const Json& p) {
    if (isRow(p) || !p.contains("targets") || !p["targets"].is_array()) return;
    for (const auto& t : p["targets"])
      out.push_back({str(p, "title"), str(t, "refId"), str(t, "expr"),
                     t.is_object() && t.value("instant", false) && !t.value("range", false)});
  });
  return out;
}

}  // namespace vnetd::testing::grafana
