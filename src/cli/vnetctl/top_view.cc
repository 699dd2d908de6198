#include "cli/vnetctl/top_view.h"

#include <algorithm>
#include <cstdio>

namespace vnetd::cli {
namespace {

const JailSample* findJail(const TopSample& s, const std::string& name) {
  for (const auto& j : s.jails)
    if (j.name == name) return &j;
  return nullptr;
}

const Counters* findInterface(const JailSample& j, const std::string& host_name) {
  for (const auto& [name, c] : j.interfaces)
    if (name == host_name) return &c;
  return nullptr;
}

std::string withPrecision(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string cut(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  if (width == 0) return "";
  return s.substr(0, width - 1) + "~";
}

struct Column {
  const char* title;
  int priority;  // lower goes first when space runs out; the JAIL column never goes
  std::string (*cell)(const JailRow&);
};

const Column kColumns[] = {
    {"RX-bit/s", 9, [](const JailRow& r) { return formatSi(r.rx_bps); }},
    {"TX-bit/s", 9, [](const JailRow& r) { return formatSi(r.tx_bps); }},
    {"RX-pkt/s", 2, [](const JailRow& r) { return formatSi(r.rx_pps); }},
    {"TX-pkt/s", 2, [](const JailRow& r) { return formatSi(r.tx_pps); }},
    {"FLOWS", 3, [](const JailRow& r) { return r.flows ? formatSi(static_cast<double>(*r.flows)) : "-"; }},
    {"DROP/s", 4, [](const JailRow& r) { return formatSi(r.drops_ps); }},
};
constexpr size_t kGap = 2;
constexpr size_t kMinJailWidth = 8;

}  // namespace

TopSample topSample(const StatusSnapshot& s, double at) {
  TopSample out;
  out.at = at;
  for (const auto& j : s.jails) {
    JailSample js;
    js.name = j.name;
    js.jid = j.jid;
    js.running = j.running;
    js.flows = j.flows;
    js.flows_sample = j.flows_sample;
    Rates sum;
    bool all_rates = !j.interfaces.empty();
    for (const auto& i : j.interfaces) {
      if (i.counters) js.interfaces.emplace_back(i.host_name, *i.counters);
      if (!i.rates) {
        all_rates = false;
        continue;
      }
      sum.rx_bps += i.rates->rx_bps;
      sum.tx_bps += i.rates->tx_bps;
      sum.rx_pps += i.rates->rx_pps;
      sum.tx_pps += i.rates->tx_pps;
      sum.seconds = std::max(sum.seconds, i.rates->seconds);
    }
    if (all_rates) js.daemon_rates = sum;
    out.jails.push_back(std::move(js));
  }
  return out;
}

uint64_t counterDelta(uint64_t prev, uint64_t cur) { return cur >= prev ? cur - prev : cur; }

std::optional<double> JailRow::total() const {
  if (!rx_bps || !tx_bps) return std::nullopt;
  return *rx_bps + *tx_bps;
}

std::vector<JailRow> topRows(const TopSample* prev, const TopSample& cur) {
  std::vector<JailRow> rows;
  for (const auto& j : cur.jails) {
    JailRow r;
    r.name = j.name;
    r.running = j.running;
    r.flows = j.flows;
    r.flows_sample = j.flows_sample;
    const JailSample* p = prev ? findJail(*prev, j.name) : nullptr;
    const double dt = prev ? cur.at - prev->at : 0;
    if (p && dt > 0) {
      // A restarted jail (new jid) has new pairs: every counter starts again.
      const bool restarted = p->jid != j.jid;
      uint64_t rx_b = 0, tx_b = 0, rx_p = 0, tx_p = 0, drops = 0;
      for (const auto& [name, c] : j.interfaces) {
        const Counters* pc = restarted ? nullptr : findInterface(*p, name);
        static const Counters kZero{};
        const Counters& base = pc ? *pc : kZero;
        rx_b += counterDelta(base.rx_bytes, c.rx_bytes);
        tx_b += counterDelta(base.tx_bytes, c.tx_bytes);
        rx_p += counterDelta(base.rx_packets, c.rx_packets);
        tx_p += counterDelta(base.tx_packets, c.tx_packets);
        drops += counterDelta(base.rx_dropped, c.rx_dropped) + counterDelta(base.tx_dropped, c.tx_dropped);
      }
      r.rx_bps = static_cast<double>(rx_b) * 8 / dt;
      r.tx_bps = static_cast<double>(tx_b) * 8 / dt;
      r.rx_pps = static_cast<double>(rx_p) / dt;
      r.tx_pps = static_cast<double>(tx_p) / dt;
      r.drops_ps = static_cast<double>(drops) / dt;
    } else if (j.daemon_rates) {
      r.rx_bps = j.daemon_rates->rx_bps;
      r.tx_bps = j.daemon_rates->tx_bps;
      r.rx_pps = j.daemon_rates->rx_pps;
      r.tx_pps = j.daemon_rates->tx_pps;
    }
    rows.push_back(std::move(r));
  }
  sortRows(rows);
  return rows;
}

void sortRows(std::vector<JailRow>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const JailRow& a, const JailRow& b) {
    auto ta = a.total(), tb = b.total();
    if (ta.has_value() != tb.has_value()) return ta.has_value();
    if (ta && *ta != *tb) return *ta > *tb;
    return a.name < b.name;
  });
}

std::vector<std::string> layoutTop(const std::vector<JailRow>& rows, const TopHeader& header, unsigned width,
                                   unsigned height) {
  // Totals over the jails whose rates are known.
  double rx_bps = 0, tx_bps = 0, rx_pps = 0, tx_pps = 0, drops = 0;
  uint64_t flows = 0;
  bool any_drops = false, any_flows = false;
  uint64_t sampled = 0;  // [capture] sample N of the flows, when sampled
  size_t running = 0;
  for (const auto& r : rows) {
    rx_bps += r.rx_bps.value_or(0);
    tx_bps += r.tx_bps.value_or(0);
    rx_pps += r.rx_pps.value_or(0);
    tx_pps += r.tx_pps.value_or(0);
    if (r.drops_ps) drops += *r.drops_ps, any_drops = true;
    if (r.flows) flows += *r.flows, any_flows = true;
    if (r.flows_sample) sampled = std::max(sampled, *r.flows_sample);
    running += r.running ? 1 : 0;
  }

  std::vector<std::string> lines;
  std::string l1 = "vnetctl top  " + header.clock + "  " + std::to_string(rows.size()) +
                   (rows.size() == 1 ? " jail, " : " jails, ") + std::to_string(running) + " running  every " +
                   withPrecision(header.interval) + "s";
  if (!header.hint.empty()) l1 += "  (" + header.hint + ")";
  lines.push_back(l1);
  lines.push_back("total  rx " + formatSi(rx_bps) + " bit/s " + formatSi(rx_pps) + " pkt/s  tx " + formatSi(tx_bps) +
                  " bit/s " + formatSi(tx_pps) + " pkt/s  drops " +
                  (any_drops ? formatSi(drops) + "/s" : std::string("-")) + "  flows " +
                  (any_flows ? std::to_string(flows) : std::string("-")) +
                  (any_flows && sampled > 1 ? " (sampled capture, 1 frame in " + std::to_string(sampled) + ")" : ""));
  lines.push_back("");

  // Columns that fit: the numeric ones are at most 8 wide; the JAIL column takes the rest.
  size_t longest = 4;
  for (const auto& r : rows) longest = std::max(longest, printable(r.name).size());
  std::vector<const Column*> cols;
  for (const auto& c : kColumns) cols.push_back(&c);
  auto numericWidth = [&](const Column* c) {
    size_t w = std::string(c->title).size();
    for (const auto& r : rows) w = std::max(w, c->cell(r).size());
    return w;
  };
  auto fixedWidth = [&] {
    size_t w = 0;
    for (const auto* c : cols) w += numericWidth(c) + kGap;
    return w;
  };
  size_t jail_width = longest;
  if (width > 0) {
    // Drop columns, least important first, while the names would be cut below the minimum.
    while (!cols.empty() && fixedWidth() + std::min(longest, kMinJailWidth) > width) {
      auto victim = std::min_element(cols.begin(), cols.end(),
                                     [](const Column* a, const Column* b) { return a->priority < b->priority; });
      cols.erase(victim);
    }
    size_t fixed = fixedWidth();
    jail_width = width > fixed ? std::min(longest, width - fixed) : std::min<size_t>(longest, width);
  }

  // Once per column, not per rendered line: that formatted every cell of the table for
  // every line (rows² formatSi calls; at 500 jails 0.05 s of CPU per refresh).
  std::vector<size_t> widths;
  for (const auto* c : cols) widths.push_back(numericWidth(c));
  auto render = [&](const std::string& name, const std::vector<std::string>& cells) {
    std::string line = cut(name, jail_width);
    line.append(jail_width - line.size(), ' ');
    for (size_t k = 0; k < cols.size(); ++k) {
      size_t w = widths[k];
      line.append(kGap + w - std::min(w, cells[k].size()), ' ');
      line += cells[k];
    }
    return line;
  };
  {
    std::vector<std::string> titles;
    for (const auto* c : cols) titles.push_back(c->title);
    lines.push_back(render("JAIL", titles));
  }
  std::vector<std::string> body;
  for (const auto& r : rows) {
    std::vector<std::string> cells;
    for (const auto* c : cols) cells.push_back(c->cell(r));
    body.push_back(render(printable(r.name), cells));
  }
  if (height > 0 && lines.size() + body.size() > height) {
    size_t room = height > lines.size() ? height - lines.size() : 0;
    size_t shown = room > 0 ? room - 1 : 0;
    size_t hidden = body.size() - shown;
    body.resize(shown);
    if (room > 0) body.push_back("... " + std::to_string(hidden) + " more jail" + (hidden == 1 ? "" : "s"));
    // Not even the header fits: keep what does.
    if (lines.size() > height) lines.resize(height);
  }
  lines.insert(lines.end(), body.begin(), body.end());
  if (width > 0)
    for (auto& l : lines)
      if (l.size() > width) l.resize(width);
  for (auto& l : lines)
    while (!l.empty() && l.back() == ' ') l.pop_back();
  return lines;
}

}  // namespace vnetd::cli
