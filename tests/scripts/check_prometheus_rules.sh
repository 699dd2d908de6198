#!/bin/sh
# The Prometheus rules in prometheus/: valid (promtool check rules), behaving as
# tests/prometheus/vnetd_rules_test.yml says (promtool test rules), and kept honest:
#  - every alert is exercised by the test file (an alertname entry) and has its runbook
#    section "### NAME" in docs/troubleshooting.md, which its runbook annotation names;
#  - every vnetd_ metric the rules read is one docs/metrics.md documents (a renamed metric
#    would make an alert silently quiet: a selector of a missing series matches nothing).
# usage: check_prometheus_rules.sh PROMTOOL SOURCE_DIR
set -eu
promtool=$1
src=$2
rules_dir=$src/prometheus
tests=$src/tests/prometheus/vnetd_rules_test.yml
runbook=$src/docs/troubleshooting.md
metrics=$src/docs/metrics.md
fail=0
bad() { echo "check_prometheus_rules: $*" >&2; fail=1; }

set -- "$rules_dir"/*.yml
[ -e "$1" ] || { echo "check_prometheus_rules: no rule files in $rules_dir" >&2; exit 1; }
"$promtool" check rules "$@" || fail=1
"$promtool" test rules "$tests" || fail=1

alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\) *$/\1/p' "$@")
[ -n "$alerts" ] || bad "no alerts found in $*"
for a in $alerts; do
  grep -q "alertname: *$a *\$" "$tests" || bad "alert $a is not tested in $tests"
  grep -q "^### $a\$" "$runbook" || bad "alert $a has no runbook section '### $a' in $runbook"
  anchor=$(echo "$a" | tr 'A-Z' 'a-z')
  grep -q "runbook: \"docs/troubleshooting.md#$anchor\"" "$@" || bad "alert $a: runbook annotation is not docs/troubleshooting.md#$anchor"
done

# Metric names the expressions read: vnetd_ words not part of a recording rule's name
# (those contain ':').
names=$(grep -h 'expr:\|^ \{10,\}[^ #]' "$@" | grep -o '[a-z:_]*vnetd_[a-z_]*' | grep -v ':' | sort -u)
for n in $names; do
  # A histogram's/counter's documented name covers its series.
  grep -q "\`$n\`" "$metrics" || bad "metric $n (used by the rules) is not in $metrics"
done
[ "$fail" -eq 0 ] && echo "check_prometheus_rules: OK ($(echo $alerts | wc -w) alerts)"
exit "$fail"
