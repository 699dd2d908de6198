#!/bin/sh
# End-to-end test of vnetd-hook on a real FreeBSD 14+ host (root, VIMAGE kernel,
# if_bridge + if_epair): two vnet jails on one bridge, hooks in jail(8)'s order, ping,
# idempotency, and no leftovers. In the spirit of FreeBSD's sbin/ifconfig/tests:
# everything carries a unique prefix and is removed on exit, even on failure.
#
# usage: hook_test.sh BUILD_DIR
# Run by scripts/test on FreeBSD; on Linux scripts/test only checks its syntax (sh -n).
set -eu

build=${1:?usage: hook_test.sh BUILD_DIR}
hook="$build/src/cli/vnetd-hook"
[ "$(uname -s)" = FreeBSD ] || { echo "hook_test.sh: FreeBSD only"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "hook_test.sh: needs root"; exit 1; }
sysctl -n kern.features.vimage >/dev/null 2>&1 || { echo "hook_test.sh: kernel without VIMAGE"; exit 1; }
kldload -n if_bridge if_epair

p="vt$(jot -r 1 4096 65535)"
a="${p}a"
b="${p}b"
br="${p}br"
work=$(mktemp -d -t vnetd-test)
fails=0

cleanup() {
	for j in "$a" "$b"; do
		jail -r "$j" >/dev/null 2>&1 || true
		"$hook" -c "$work/vnetd.toml" poststop "$j" >/dev/null 2>&1 || true
	done
	ifconfig "$br" destroy >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

check() {  # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok   $desc"
	else
		echo "FAIL $desc"
		fails=$((fails + 1))
	fi
}

cat > "$work/vnetd.toml" <<TOML
[daemon]
state_dir = "$work/state"
[bridge.lan]
interface = "$br"
address = "198.18.110.1/24"
[jail.$a]
[[jail.$a.interface]]
bridge = "lan"
address = "198.18.110.10/24"
[jail.$b]
[[jail.$b.interface]]
bridge = "lan"
address = "auto"
TOML

for j in "$a" "$b"; do
	check "prestart $j" "$hook" -c "$work/vnetd.toml" prestart "$j"
	check "prestart $j again (idempotent)" "$hook" -c "$work/vnetd.toml" prestart "$j"
	check "e0a_$j is a member of $br" sh -c "ifconfig $br | grep -q 'member: e0a_$j '"
	jail -c name="$j" vnet persist path=/ host.hostname="$j"
	check "created $j" "$hook" -c "$work/vnetd.toml" created "$j"
	check "created $j again (idempotent)" "$hook" -c "$work/vnetd.toml" created "$j"
	check "e0b_$j is inside $j" jexec "$j" ifconfig "e0b_$j"
	check "default route in $j" sh -c "jexec $j route -n get default | grep -q 'gateway: 198.18.110.1'"
done

check "$a pings the gateway" jexec "$a" ping -c 2 -t 5 198.18.110.1
check "$b pings the gateway" jexec "$b" ping -c 2 -t 5 198.18.110.1
check "$a pings $b" jexec "$a" ping -c 2 -t 5 198.18.110.2
check "$b pings $a" jexec "$b" ping -c 2 -t 5 198.18.110.10

for j in "$a" "$b"; do
	check "prestop hands e0b_$j back" ifconfig "e0b_$j" -vnet "$j"
	jail -r "$j"
	check "poststop $j" "$hook" -c "$work/vnetd.toml" poststop "$j"
	check "poststop $j again (no-op)" "$hook" -c "$work/vnetd.toml" poststop "$j"
	check "no e0a_$j left" sh -c "! ifconfig e0a_$j"
	check "no e0b_$j left" sh -c "! ifconfig e0b_$j"
done
check "hostile name rejected" sh -c "! '$hook' -c '$work/vnetd.toml' prestart '../x'"

echo "hook_test.sh: $fails failure(s)"
[ "$fails" -eq 0 ]
