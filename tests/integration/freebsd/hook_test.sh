#!/bin/sh
# End-to-end test of vnetd-hook on a real FreeBSD 14+ host (root, VIMAGE kernel,
# if_bridge + if_epair + if_vlan). Part 1: two vnet jails on one bridge, hooks called by hand in
# jail(8)'s order, ping, idempotency, no leftovers. Part 1b: the seed tutorial's VLAN
# example ("ifconfig vlan100 create vlandev em0 vlan 100 up; ifconfig bridge0 addm
# vlan100") as vnetd's [vlan.X] + uplinks = ["vlan:X"], with a jail reaching a router on
# that VLAN, and what poststop leaves (the vlan stays: docs/jail-conf.md). Part 1c: a port
# forward's rdr rule in its pf anchor, loaded at created, gone at poststop. Part 2: jail(8) itself runs the
# hooks from a jail.conf like config/jail.conf.sample, for a jail with its own root whose
# exec.start is the real /etc/rc (rc.d/netif sets "inet6 ifdisabled",
# libexec/rc/network.subr ifconfig_up): IPv6 must work after the start, a renamed jail
# side with a hashed name must stop cleanly (prestop), a failing exec.created must leave
# nothing, and vnet.interface for a managed interface must make the start fail (the
# jail(8) order the sample relies on: usr.sbin/jail/jail.c startcommands).
# In the spirit of FreeBSD's sbin/ifconfig/tests: everything carries a unique prefix and
# is removed on exit, even on failure.
#
# usage: hook_test.sh BUILD_DIR
# Run by scripts/test on FreeBSD; on Linux scripts/test only checks its syntax (sh -n).
set -eu

build=${1:?usage: hook_test.sh BUILD_DIR}
hook="$build/src/cli/vnetd-hook"
[ "$(uname -s)" = FreeBSD ] || { echo "hook_test.sh: FreeBSD only"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "hook_test.sh: needs root"; exit 1; }
sysctl -n kern.features.vimage >/dev/null 2>&1 || { echo "hook_test.sh: kernel without VIMAGE"; exit 1; }
kldload -n if_bridge if_epair if_vlan

p="vt$(jot -r 1 4096 65535)"
a="${p}a"
b="${p}b"
br="${p}br"
work=$(mktemp -d -t vnetd-test)
fails=0

# Part 1b's names: the seed's em0, vlan100 and bridge0 with this run's prefix.
e="${p}e"                 # a jail on the VLAN bridge
r="${p}r"                 # the router on VLAN 100, at the other end of the "em0" epair
up="${p}up"               # em0: host end of an epair of this test
vl="${p}v100"             # vlan100
brv="${br}v"              # bridge0

cleanup() {
	for j in "$a" "$b" "$e"; do
		jail -r "$j" >/dev/null 2>&1 || true
		"$hook" -c "$work/vnetd.toml" poststop "$j" >/dev/null 2>&1 || true
	done
	# vnetd leaves a bridge's vlan uplink in place (poststop destroys only the jail's
	# pairs), and a vlan outlives its parent (unconfigured): destroy it by name. Removing
	# the router jail gives its epair end back; destroying one end destroys both
	# (sys/net/if_epair.c epair_clone_destroy).
	jail -r "$r" >/dev/null 2>&1 || true
	jail -r "${p}x" >/dev/null 2>&1 || true
	"$hook" -c "$work/expose.toml" poststop "${p}x" >/dev/null 2>&1 || true
	ifconfig "${br}x" destroy >/dev/null 2>&1 || true
	jail -r "${p}y" >/dev/null 2>&1 || true
	"$hook" -c "$work/slaac.toml" poststop "${p}y" >/dev/null 2>&1 || true
	ifconfig "${br}y" destroy >/dev/null 2>&1 || true
	ifconfig "$vl" destroy >/dev/null 2>&1 || true
	ifconfig "$brv" destroy >/dev/null 2>&1 || true
	ifconfig "$up" destroy >/dev/null 2>&1 || true
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
	check "prestop takes e0b_$j back" "$hook" -c "$work/vnetd.toml" prestop "$j"
	check "e0b_$j is on the host again" ifconfig "e0b_$j"
	check "prestop $j again (nothing left inside, exit 0)" "$hook" -c "$work/vnetd.toml" prestop "$j"
	jail -r "$j"
	check "poststop $j" "$hook" -c "$work/vnetd.toml" poststop "$j"
	check "poststop $j again (no-op)" "$hook" -c "$work/vnetd.toml" poststop "$j"
	check "no e0a_$j left" sh -c "! ifconfig e0a_$j"
	check "no e0b_$j left" sh -c "! ifconfig e0b_$j"
done
check "hostile name rejected" sh -c "! '$hook' -c '$work/vnetd.toml' prestart '../x'"

# ---- Part 1b: the seed's VLAN example ------------------------------------------------------
# The seed (vnet-jails-tutorial, "VLAN Configuration") in jail.conf:
#   exec.prestart += "ifconfig vlan100 create vlandev em0 vlan 100 up";
#   exec.prestart += "ifconfig bridge0 addm vlan100";
# In vnetd's TOML: [vlan.vlan100] parent = "em0", tag = 100, and bridge0 with uplinks =
# ["vlan:vlan100"]; vnetd-hook prestart creates the vlan and the bridge with it as a member.
# em0 is an epair of this test; at its other end a router jail runs the seed's own
# ifconfig line in its vnet, so tagged frames are what reaches it (root in a vnet jail
# may create interfaces: sys/kern/kern_jail.c prison_priv_check grants PRIV_NET_IFCREATE
# to PR_VNET prisons).
#
# What is read from ifconfig(8):
# - "\tvlan: TAG ... parent interface: PARENT" (sbin/ifconfig/ifvlan.c vlan_status; the
#   stored freebsd-src 73c78aa6 prints "vlan: %d parent interface: %s", newer trees put
#   " vlanproto: %s" / " vlanpcp: %u" between the two: hence field 2 after "vlan:" and
#   the text after "parent interface: ");
# - "\tmember: NAME flags=..." per bridge member (sbin/ifconfig/ifbridge.c bridge_status
#   -> bridge_interfaces with the prefix "\tmember: ");
# - "ifconfig -l -u": the names of the interfaces that are up (sbin/ifconfig/ifconfig.c
#   main: -l names only, -u only IFF_UP).
vlan_of() {  # vlan_of IF: "TAG PARENT" of a vlan interface, nothing when it is none
	ifconfig "$1" 2>/dev/null | awk '
		$1 == "vlan:" { tag = $2; p = $0; sub(/.*parent interface: /, "", p); split(p, w, " "); parent = w[1] }
		END { if (tag != "") print tag, parent }'
}
is_member() {  # is_member BRIDGE IF
	ifconfig "$1" 2>/dev/null | awk -v m="$2" '$1 == "member:" && $2 == m { found = 1 } END { exit !found }'
}
is_up() {  # is_up IF
	ifconfig -l -u | tr ' ' '\n' | grep -qx "$1"
}

epair=$(ifconfig epair create)
ifconfig "$epair" name "$up" >/dev/null
ifconfig "${epair%a}b" name "${up}b" >/dev/null
ifconfig "$up" up
jail -c name="$r" vnet persist path=/ host.hostname="$r" vnet.interface="${up}b"
jexec "$r" ifconfig "${up}b" up
check "the router runs the seed's line on its end: vlan100 on ${up}b, tag 100" \
	jexec "$r" ifconfig vlan100 create vlandev "${up}b" vlan 100 up
jexec "$r" ifconfig vlan100 inet 198.18.112.2/24

cat >> "$work/vnetd.toml" <<TOML
[vlan.$vl]
parent = "$up"
tag = 100
[bridge.vlan]
interface = "$brv"
uplinks = ["vlan:$vl"]
[jail.$e]
[[jail.$e.interface]]
bridge = "vlan"
address = "198.18.112.10/24"
TOML

check "prestart $e (bridge $brv and vlan $vl created)" "$hook" -c "$work/vnetd.toml" prestart "$e"
check "$vl exists" ifconfig "$vl"
check "$vl carries tag 100 on $up (ifconfig: vlan: 100 ... parent interface: $up)" \
	test "$(vlan_of "$vl")" = "100 $up"
check "$vl is up (the seed's 'up')" is_up "$vl"
check "$vl is a member of $brv (the seed's 'addm vlan100')" is_member "$brv" "$vl"
check "e0a_$e is a member of $brv" is_member "$brv" "e0a_$e"
check "prestart $e again (idempotent)" "$hook" -c "$work/vnetd.toml" prestart "$e"
check "still one $vl with tag 100 on $up" test "$(vlan_of "$vl")" = "100 $up"
jail -c name="$e" vnet persist path=/ host.hostname="$e"
check "created $e" "$hook" -c "$work/vnetd.toml" created "$e"
check "$e pings the router on VLAN 100 (tagged through $vl and $up)" \
	jexec "$e" ping -c 2 -t 5 198.18.112.2

check "prestop $e" "$hook" -c "$work/vnetd.toml" prestop "$e"
jail -r "$e"
check "poststop $e" "$hook" -c "$work/vnetd.toml" poststop "$e"
check "no e0a_$e left" sh -c "! ifconfig e0a_$e"
# docs/jail-conf.md, poststop: only the jail's pairs go; the bridge and its vlan uplink
# (shared by every jail on it) stay as they were.
check "$vl is still there after poststop, tag 100 on $up" test "$(vlan_of "$vl")" = "100 $up"
check "$vl is still a member of $brv" is_member "$brv" "$vl"
check "$brv is still there" ifconfig "$brv"

# ---- Part 1c: a port forward (issue 19) ---------------------------------------------------
# expose = ["tcp/8080:80"]: `created` loads an rdr rule into the jail's own pf anchor
# vnetd/expose.<jail> (platform/freebsd/policy_text.h), poststop empties it. pf only has to
# be loaded, not enabled, for an anchor to be loaded and listed; `pfctl -s nat` lists rdr
# rules too (sbin/pfctl/pfctl.c pfctl_show_nat walks PF_NAT, PF_RDR and PF_BINAT). Loading
# pf(4) filters nothing until `pfctl -e`.
x="${p}x"
brx="${br}x"
kldload -n pf
cat > "$work/expose.toml" <<TOML
[daemon]
state_dir = "$work/state-x"
[bridge.lanx]
interface = "$brx"
address = "198.18.111.1/24"
[jail.$x]
[[jail.$x.interface]]
bridge = "lanx"
address = "198.18.111.10/24"
expose = ["tcp/8080:80"]
TOML
check "prestart $x" "$hook" -c "$work/expose.toml" prestart "$x"
jail -c name="$x" vnet persist path=/ host.hostname="$x"
check "created $x (loads its forward)" "$hook" -c "$work/expose.toml" created "$x"
check "anchor vnetd/expose.$x holds an rdr rule to 198.18.111.10 port 80" \
	sh -c "pfctl -a 'vnetd/expose.$x' -s nat 2>/dev/null | grep '^rdr pass' | grep -q '198.18.111.10 port 80'"
check "created $x again (idempotent: still one rdr rule)" "$hook" -c "$work/expose.toml" created "$x"
check "anchor vnetd/expose.$x holds exactly one rdr rule" \
	test "$(pfctl -a "vnetd/expose.$x" -s nat 2>/dev/null | grep -c '^rdr')" = 1
jail -r "$x"
check "poststop $x" "$hook" -c "$work/expose.toml" poststop "$x"
check "anchor vnetd/expose.$x is empty after poststop" \
	test -z "$(pfctl -a "vnetd/expose.$x" -s nat 2>/dev/null)"

# ---- Part 1d: SLAAC (issue 19) -------------------------------------------------------------
# address6 = "slaac": `created` turns on router advertisements inside the jail (one
# SIOCSIFINFO_IN6: -ifdisabled accept_rtadv auto_linklocal) and sends the router
# solicitation rtsol(8) would, from the jail (platform/freebsd/netstack.cc solicitRouters).
# The jail's own ICMPv6 statistics count it: sys/netinet6/raw_ip6.c rip6_output counts every
# ICMPv6 message a raw socket sends in icp6s_outhist[type], which netstat -s -p icmp6 prints
# as "Output histogram" (usr.bin/netstat/inet6.c icmp6_stats; type 133 is "router
# solicitation" in its icmp6names).
y="${p}y"
bry="${br}y"
cat > "$work/slaac.toml" <<TOML
[daemon]
state_dir = "$work/state-y"
[bridge.lany]
interface = "$bry"
address = "198.18.113.1/24"
[jail.$y]
[[jail.$y.interface]]
bridge = "lany"
address = "198.18.113.10/24"
address6 = "slaac"
TOML
check "prestart $y" "$hook" -c "$work/slaac.toml" prestart "$y"
jail -c name="$y" vnet persist path=/ host.hostname="$y"
check "created $y (SLAAC on e0b_$y)" "$hook" -c "$work/slaac.toml" created "$y"
check "e0b_$y accepts router advertisements and has IPv6 on" \
	sh -c "jexec '$y' ifconfig 'e0b_$y' | grep -q ACCEPT_RTADV && ! jexec '$y' ifconfig 'e0b_$y' | grep -q IFDISABLED"
check "e0b_$y has its link-local address from its MAC" \
	sh -c "jexec '$y' ifconfig 'e0b_$y' inet6 | grep -q 'inet6 fe80::'"
check "$y sent a router solicitation (its ICMPv6 output histogram)" \
	sh -c "jexec '$y' netstat -s -p icmp6 | awk '/Output histogram/ {o = 1; next} o && /^\t[^\t]/ {o = 0} o && /router solicitation/ {f = 1} END {exit !f}'"
jail -r "$y"
check "poststop $y" "$hook" -c "$work/slaac.toml" poststop "$y"

# ---- Part 2: jail(8) runs the hooks -------------------------------------------------------
# A jail root of its own: the base system read-only through nullfs, its own /etc with
# the host's rc scripts and a minimal rc.conf (no ipv6_activate_all_interfaces, as on a
# fresh install), its own /var and /tmp. exec.start is the real /etc/rc.
c="${p}c"                 # short name, IPv6
d="${p}dlongername"       # over 11 characters: hashed interface names; jail side renamed
f="${p}f"                 # no own vnet: vnetd's created fails
g="${p}g"                 # an exec.created after vnetd's fails
n="${p}n"                 # like $c without poststart: shows what rc does to IPv6
v="${p}v"                 # sets vnet.interface for its managed interface (must fail)
root="$work/root"
mkdir -p "$root/etc" "$root/dev" "$root/var/run" "$root/var/log" "$root/var/db" "$root/tmp"
for dir in bin sbin lib libexec usr; do mkdir -p "$root/$dir"; done
cp -Rp /etc/rc /etc/rc.subr /etc/rc.shutdown /etc/network.subr /etc/rc.d /etc/defaults \
	/etc/login.conf /etc/master.passwd /etc/passwd /etc/group /etc/services /etc/protocols \
	/etc/pwd.db /etc/spwd.db "$root/etc/" 2>/dev/null || true
cat > "$root/etc/rc.conf" <<RCCONF
hostname="vnetd-test"
sendmail_enable="NONE"
cron_enable="NO"
syslogd_enable="NO"
RCCONF

cat >> "$work/vnetd.toml" <<TOML
[bridge.lan6]
interface = "${br}6"
address = "198.18.111.1/24"
address6 = "2001:db8:111::1/64"
[jail.$c]
[[jail.$c.interface]]
bridge = "lan6"
address = "198.18.111.10/24"
address6 = "2001:db8:111::10/64"
gateway6 = "2001:db8:111::1"
[jail.$d]
[[jail.$d.interface]]
bridge = "lan6"
address = "198.18.111.11/24"
name = "net0"
[jail.$f]
[[jail.$f.interface]]
bridge = "lan6"
address = "198.18.111.12/24"
[jail.$g]
[[jail.$g.interface]]
bridge = "lan6"
address = "198.18.111.14/24"
[jail.$n]
[[jail.$n.interface]]
bridge = "lan6"
address = "198.18.111.15/24"
address6 = "2001:db8:111::15/64"
[jail.$v]
[[jail.$v.interface]]
bridge = "lan6"
address = "198.18.111.13/24"
TOML

h="$hook -c $work/vnetd.toml"
cat > "$work/jail.conf" <<JAILCONF
path = "$root";
vnet;
mount.devfs;
mount += "/bin $root/bin nullfs ro 0 0";
mount += "/sbin $root/sbin nullfs ro 0 0";
mount += "/lib $root/lib nullfs ro 0 0";
mount += "/libexec $root/libexec nullfs ro 0 0";
mount += "/usr $root/usr nullfs ro 0 0";
exec.start = "/bin/sh /etc/rc";
exec.stop = "/bin/sh /etc/rc.shutdown";
exec.prestart  += "$h prestart \${name}";
exec.created   += "$h created \${name}";
exec.poststart += "$h poststart \${name}";
exec.prestop   += "$h prestop \${name}";
exec.poststop  += "$h poststop \${name}";
$c { }
$d { }
$f { vnet = "inherit"; }
$g { exec.created += "/usr/bin/false"; }
$n { exec.poststart = ""; }
$v { vnet.interface = "e0b_$v"; }
JAILCONF

cleanup2() {
	for j in "$c" "$d" "$f" "$g" "$n" "$v"; do
		jail -f "$work/jail.conf" -r "$j" >/dev/null 2>&1 || true
		$h poststop "$j" >/dev/null 2>&1 || true
	done
	ifconfig "${br}6" destroy >/dev/null 2>&1 || true
	for dir in bin sbin lib libexec usr dev; do umount "$root/$dir" >/dev/null 2>&1 || true; done
	cleanup
}
trap cleanup2 EXIT INT TERM

check "jail(8) starts $n without poststart" jail -f "$work/jail.conf" -c "$n"
# Which releases do this is not certain from here (network.subr ifconfig_up sets
# ifdisabled in the trees read; newer ones may leave it to the kernel): say what this
# host does instead of failing on it.
if jexec "$n" ifconfig "e0b_$n" | grep -q IFDISABLED; then
	echo "note the jail's rc switched IPv6 off on e0b_$n (network.subr ifconfig_up)"
else
	echo "note the jail's rc left IPv6 on on e0b_$n on this release"
fi
check "poststart by hand switches it back on" $h poststart "$n"
check "IPv6 on e0b_$n again" sh -c "! jexec $n ifconfig e0b_$n | grep -q IFDISABLED"
check "$n pings the IPv6 gateway" jexec "$n" ping -6 -c 2 -t 5 2001:db8:111::1
check "jail(8) stops $n" jail -f "$work/jail.conf" -r "$n"

check "jail(8) starts $c (rc runs inside)" jail -f "$work/jail.conf" -c "$c"
check "the IPv6 address is on e0b_$c after rc" \
	sh -c "jexec $c ifconfig e0b_$c | grep -q 'inet6 2001:db8:111::10'"
check "IPv6 is on after poststart (no IFDISABLED)" sh -c "! jexec $c ifconfig e0b_$c | grep -q IFDISABLED"
check "$c pings the IPv6 gateway" jexec "$c" ping -6 -c 2 -t 5 2001:db8:111::1
check "$c has the IPv6 default route" sh -c "jexec $c route -n get -inet6 default | grep -q 'gateway: 2001:db8:111::1'"
check "$c pings the IPv4 gateway" jexec "$c" ping -c 2 -t 5 198.18.111.1
check "restart $c (jail -rc)" jail -f "$work/jail.conf" -rc "$c"
check "$c pings the IPv6 gateway after the restart" jexec "$c" ping -6 -c 2 -t 5 2001:db8:111::1
check "jail(8) stops $c (prestop, stop, remove, poststop)" jail -f "$work/jail.conf" -r "$c"
check "no e0a_$c left" sh -c "! ifconfig e0a_$c"
check "no e0b_$c left" sh -c "! ifconfig e0b_$c"

dside=$($h prestart "$d" 2>/dev/null | head -1) || true
$h poststop "$d" >/dev/null 2>&1 || true
check "the long name $d gets a hashed jail side ($dside)" test "${#dside}" -eq 15
check "jail(8) starts $d" jail -f "$work/jail.conf" -c "$d"
check "the jail side of $d is net0 inside" jexec "$d" ifconfig net0
check "jail(8) stops $d (prestop finds net0 by its recorded MAC)" jail -f "$work/jail.conf" -r "$d"
check "$d is gone" sh -c "! jls -j $d"
check "no $dside left" sh -c "! ifconfig $dside"

check "jail(8) refuses $f (vnetd's created fails: no own vnet)" sh -c "! jail -f $work/jail.conf -c $f"
check "$f is not running" sh -c "! jls -j $f"
check "the failed start of $f left no e0a_$f (created cleaned up; no poststop runs)" sh -c "! ifconfig e0a_$f"
check "nor e0b_$f" sh -c "! ifconfig e0b_$f"

check "jail(8) refuses $g (a later exec.created fails)" sh -c "! jail -f $work/jail.conf -c $g"
check "$g is not running" sh -c "! jls -j $g"
check "the next prestart of $g makes its pair anew" $h prestart "$g"
check "poststop $g" $h poststop "$g"
check "no e0a_$g left" sh -c "! ifconfig e0a_$g"

check "jail(8) refuses $v: vnet.interface after exec.created (jail.c startcommands)" \
	sh -c "! jail -f $work/jail.conf -c $v"
check "$v is not running" sh -c "! jls -j $v"
check "the next prestart of $v makes its pair anew" $h prestart "$v"
check "poststop $v" $h poststop "$v"
check "no e0a_$v left" sh -c "! ifconfig e0a_$v"

echo "hook_test.sh: $fails failure(s)"
[ "$fails" -eq 0 ]
