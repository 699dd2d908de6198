#!/bin/sh
# Checks the FreeBSD port (packaging/freebsd/net-mgmt/vnetd) against the build:
#  - pkg-plist equals what `cmake --install` puts under PREFIX with the FreeBSD layout
#    (component layout-freebsd, the same rules as a FreeBSD build), turned into packing-list
#    form the way the ports framework does (Mk/bsd.port.mk):
#      etc/rc.d/vnetd      left out: install-rc-script stages files/vnetd.in and adds the
#                          line itself (USE_RC_SUBR), and the port turns off CMake's copy
#      share/man/...       + ".gz": compress-man gzips every page under MANDIRS
#      etc/X.sample        "@sample etc/X.sample" (Porter's Handbook, Configuration Files)
#    %%DATADIR%% and %%EXAMPLESDIR%% in pkg-plist are share/vnetd and share/examples/vnetd
#    (bsd.port.mk PLIST_SUB: DATADIR_REL, EXAMPLESDIR_REL of PORTNAME vnetd);
#  - files/vnetd.in with %%PREFIX%% = /usr/local is rc.d/vnetd, byte for byte;
#  - the Makefile keeps USE_RC_SUBR=vnetd, VNETD_INSTALL_RC_SCRIPT off, and the project's
#    version; pkg-message's jail.conf hook lines are config/jail.conf.sample's.
#
# usage: check_port.sh SOURCE_DIR BUILD_DIR   (the binaries must be built)
set -u
src=$1 build=$2
port=$src/packaging/freebsd/net-mgmt/vnetd
prefix=/usr/local
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-port-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

if ! DESTDIR=$tmp/stage cmake --install "$build" --component layout-freebsd --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  echo "FAIL cmake --install (layout-freebsd):"; cat "$tmp/install.log"; exit 1
fi
outside=$(cd "$tmp/stage" && find . \( -type f -o -type l \) | sed 's|^\.||' | grep -v "^$prefix/" || true)
if [ -n "$outside" ]; then
  echo "FAIL installed outside PREFIX (a package can only hold PREFIX):"; echo "$outside"; fail=1
fi
(cd "$tmp/stage$prefix" && find . \( -type f -o -type l \) | sed 's|^\./||') |
  sed -e '/^etc\/rc\.d\/vnetd$/d' \
      -e 's|^\(share/man/man[0-9]/.*\)$|\1.gz|' \
      -e 's|^\(etc/[^/]*\.sample\)$|@sample \1|' | LC_ALL=C sort >"$tmp/installed"
sed -e '/^$/d' -e '/^@comment /d' \
    -e 's|%%DATADIR%%|share/vnetd|g' -e 's|%%EXAMPLESDIR%%|share/examples/vnetd|g' \
    "$port/pkg-plist" | LC_ALL=C sort >"$tmp/plist"
if diff -u "$tmp/plist" "$tmp/installed" >"$tmp/diff"; then
  echo "ok   pkg-plist lists the $(wc -l <"$tmp/plist") files cmake --install puts in the package"
else
  echo "FAIL pkg-plist differs from the FreeBSD install list (- pkg-plist, + installed):"
  sed -n '3,$p' "$tmp/diff"
  fail=1
fi

if sed 's|%%PREFIX%%|/usr/local|g' "$port/files/vnetd.in" | cmp -s - "$src/rc.d/vnetd"; then
  echo "ok   files/vnetd.in is rc.d/vnetd with %%PREFIX%%"
else
  echo "FAIL files/vnetd.in is not rc.d/vnetd with /usr/local -> %%PREFIX%%; regenerate it:"
  echo "     sed 's|/usr/local/|%%PREFIX%%/|g' rc.d/vnetd > packaging/freebsd/net-mgmt/vnetd/files/vnetd.in"
  fail=1
fi

need() {
  if grep -Eq "$1" "$2"; then echo "ok   $3"; else echo "FAIL $3 (no line matching: $1 in ${2#"$src"/})"; fail=1; fi
}
need '^USE_RC_SUBR=[[:space:]]+vnetd$' "$port/Makefile" 'Makefile: USE_RC_SUBR=vnetd'
need '^CMAKE_OFF=.*VNETD_INSTALL_RC_SCRIPT' "$port/Makefile" 'Makefile: CMake does not install the rc.d script'
need '^CMAKE_OFF=.*VNETD_BUILD_TESTS' "$port/Makefile" 'Makefile: tests not built'
version=$(sed -n 's/^project(vnetd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
need "^DISTVERSION=[[:space:]]+${version}\$" "$port/Makefile" "Makefile: DISTVERSION is the project's version ($version)"

# The five hook lines, whitespace-normalised, from jail.conf.sample and from pkg-message.
hooks() { grep 'vnetd-hook ' "$1" | grep -v '^#' | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]][[:space:]]*/ /g' -e "s|$2|/usr/local|g"; }
hooks "$src/config/jail.conf.sample" /usr/local >"$tmp/hooks.sample"
hooks "$port/files/pkg-message.in" '%%PREFIX%%' >"$tmp/hooks.message"
if [ -s "$tmp/hooks.sample" ] && cmp -s "$tmp/hooks.sample" "$tmp/hooks.message"; then
  echo "ok   pkg-message's jail.conf hook lines are config/jail.conf.sample's"
else
  echo "FAIL pkg-message's jail.conf hook lines differ from config/jail.conf.sample's:"
  diff "$tmp/hooks.sample" "$tmp/hooks.message"
  fail=1
fi
exit $fail
