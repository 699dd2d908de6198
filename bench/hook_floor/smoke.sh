#!/usr/bin/env bash
# bench/hook_floor/smoke.sh — the floor tools of bench/hook_latency do what they claim.
#
# For 3 jails of its own: hook_floor_kernel prestart must leave each host side on the bridge,
# up, with its MAC, MTU and vnetd's description, the jail side (its MAC, down) inside the
# jail; created must leave the jail side up with its description and address, lo up, the
# default route, and the gateway reachable; poststop (after taking the jail's namespace
# away, as the jail's stop does) must leave no pair behind. And the
# exec floor's client must get its reply from the server, and fail without one.
#
# usage: bench/hook_floor/smoke.sh BUILD_DIR     (root; exit 77 = skipped, not root)
set -euo pipefail
build=${1:?usage: smoke.sh BUILD_DIR}
tools=$build/bench/hook_floor
[ "$(id -u)" -eq 0 ] || { echo "hook_floor smoke: needs root (creates namespaces); skipped" >&2; exit 77; }
for t in hook_floor_client hook_floor_server hook_floor_kernel; do
  [ -x "$tools/$t" ] || { echo "hook_floor smoke: build $t first ($tools)" >&2; exit 1; }
done

p=hf$(printf '%04x' $((RANDOM % 65536)))
n=3
work=$(mktemp -d /tmp/vnetd-hook-floor-XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  for ns in $(ip netns list | awk '{print $1}' | grep "^$p" || true); do ip netns del "$ns" 2>/dev/null || true; done
  for l in $(ls /sys/class/net | grep "$p" || true); do ip link del "$l" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "hook_floor smoke: $*" >&2; exit 1; }

ip link add "${p}b" type bridge && ip link set "${p}b" mtu 1400 && ip addr add 198.19.208.1/24 dev "${p}b" \
  && ip link set "${p}b" up
for i in $(seq 1 $n); do ip netns add "${p}j$i"; done
kernel() { "$tools/hook_floor_kernel" "$1" "${p}b" "${p}j" $n 198.19.208.10/24 198.19.208.1; }

kernel prestart > "$work/prestart.out"
grep -Eq '^prestart [0-9]+ [0-9]+ [0-9]+ 3$' "$work/prestart.out" || fail "prestart printed: $(cat "$work/prestart.out")"
for i in $(seq 1 $n); do
  j=${p}j$i
  h=$(ip -d link show "e0a_$j") || fail "no host side e0a_$j after prestart"
  grep -q "master ${p}b " <<<"$h" || fail "e0a_$j is not on bridge ${p}b: $h"
  grep -q '[<,]UP[,>]' <<<"$h" || fail "e0a_$j is not up: $h"
  grep -q 'mtu 1400 ' <<<"$h" || fail "e0a_$j does not have the bridge's MTU: $h"
  grep -q "alias vnetd:$j:0" <<<"$h" || fail "e0a_$j lacks vnetd's description: $h"
  grep -Eq "link/ether 02:fb:[0-9a-f]{2}:0a:00:0$i " <<<"$h" || fail "e0a_$j has not its MAC: $h"
  [ ! -e "/sys/class/net/e0b_$j" ] || fail "jail side e0b_$j is on the host, not in the jail"
  b=$(ip -n "$j" -d link show "e0b_$j") || fail "no jail side e0b_$j in jail $j after prestart"
  grep -Eq "link/ether 02:fb:[0-9a-f]{2}:0b:00:0$i " <<<"$b" || fail "e0b_$j has not its MAC: $b"
  grep -q '[<,]UP[,>]' <<<"$b" && fail "e0b_$j is up before created: $b"
done

# A second prestart must fail and say which message failed.
if kernel prestart 2>"$work/err"; then fail "a second prestart succeeded"; fi
grep -q "create pair e0a_${p}j1/e0b_${p}j1: File exists" "$work/err" || fail "unclear error: $(cat "$work/err")"

kernel created > "$work/created.out"
grep -Eq '^created [0-9]+ [0-9]+ [0-9]+ 3$' "$work/created.out" || fail "created printed: $(cat "$work/created.out")"
for i in $(seq 1 $n); do
  j=${p}j$i
  b=$(ip -n "$j" -d link show "e0b_$j") || fail "no jail side e0b_$j after created"
  grep -q '[<,]UP[,>]' <<<"$b" || fail "e0b_$j is not up after created: $b"
  grep -q "alias vnetd:$j:0" <<<"$b" || fail "e0b_$j lacks vnetd's description: $b"
  ip -n "$j" -4 addr show dev "e0b_$j" | grep -q "inet 198.19.208.$((9 + i))/24 " || fail "e0b_$j has not 198.19.208.$((9 + i))/24"
  ip -n "$j" link show lo | grep -q '[<,]UP[,>]' || fail "lo is down in jail $j"
  ip -n "$j" route show default | grep -q "default via 198.19.208.1 dev e0b_$j" || fail "no default route in jail $j"
done
ip netns exec "${p}j$n" ping -c1 -W2 198.19.208.1 >/dev/null || fail "jail ${p}j$n cannot reach its gateway"

# poststop takes the namespaces' names away first (the jails stop). Linux destroys a pair
# by itself once nothing holds its namespace: hold them here as well (open files), so that
# only the tool's own request can have removed what is gone afterwards, and to look inside.
exec 7<"/run/netns/${p}j1" 8<"/run/netns/${p}j2" 9<"/run/netns/${p}j3"
kernel poststop > "$work/poststop.out"
grep -Eq '^poststop [0-9]+ [0-9]+ [0-9]+ 3$' "$work/poststop.out" || fail "poststop printed: $(cat "$work/poststop.out")"
for i in $(seq 1 $n); do
  j=${p}j$i
  [ ! -e "/run/netns/$j" ] || fail "namespace $j still named after poststop (the jail did not stop)"
  [ ! -e "/sys/class/net/e0a_$j" ] || fail "e0a_$j still exists after poststop"
  nsenter --net="/proc/$$/fd/$((6 + i))" ip link show "e0b_$j" >/dev/null 2>&1 \
    && fail "e0b_$j still exists in jail $j after poststop"
  nsenter --net="/proc/$$/fd/$((6 + i))" ip link show lo >/dev/null || fail "cannot look into jail $j"
done
exec 7<&- 8<&- 9<&-
# A second poststop: the jails have stopped already, and it says so.
if kernel poststop 2>"$work/err"; then fail "a second poststop succeeded"; fi
grep -q "/run/netns/${p}j1: No such file or directory (no such jail, or stopped already)" "$work/err" \
  || fail "unclear error: $(cat "$work/err")"

server_pid=$("$tools/hook_floor_server" "$work/floor.sock")
"$tools/hook_floor_client" "$work/floor.sock" "prestart ${p}j1" || fail "the client got no reply from the server"
if "$tools/hook_floor_client" "$work/nobody.sock" "prestart ${p}j1" 2>/dev/null; then
  fail "the client succeeded without a server"
fi
echo "hook_floor smoke: ok ($(cat "$work/prestart.out" "$work/created.out" "$work/poststop.out" | awk '{printf "%s%s %s us", sep, $1, $2; sep=", "}'))"
