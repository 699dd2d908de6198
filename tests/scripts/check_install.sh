#!/bin/sh
# Installs a built tree into temporary DESTDIRs and compares what lands there with
# tests/install/expected-<layout>.txt (plus the manual pages and Prometheus rules the source
# tree holds): the active layout (a plain `cmake --install`), and both layouts' defaults
# through the components layout-freebsd and layout-linux (cmake/InstallRules.cmake), so the
# FreeBSD tree is checked on Linux too. Also checks that nothing is written outside DESTDIR,
# which files are executable, and that with the prefix /usr/local the installed rc.d script
# and systemd unit are the files in rc.d/ unchanged.
#
# usage: check_install.sh SOURCE_DIR BUILD_DIR ACTIVE_LAYOUT SYSTEMD_UNITDIR CONFIGURED_PREFIX
# The binaries must be built (cmake --install does not build).
set -u
src=$1 build=$2 active=$3 unitdir=$4 configured_prefix=$5
prefix=/usr/local
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-install-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# expected LAYOUT: the sorted list of absolute paths the layout installs.
expected() {
  {
    sed -e '/^#/d' -e '/^$/d' -e "s|@SYSTEMDUNITDIR@|$unitdir|" "$src/tests/install/expected-$1.txt"
    for f in "$src"/man/*.8; do [ -f "$f" ] && echo "$prefix/share/man/man8/${f##*/}"; done
    for f in "$src"/man/*.5; do [ -f "$f" ] && echo "$prefix/share/man/man5/${f##*/}"; done
    for f in "$src"/prometheus/*.yml; do [ -f "$f" ] && echo "$prefix/share/vnetd/prometheus/${f##*/}"; done
  } | LC_ALL=C sort
}

# check NAME LAYOUT [cmake --install options]: install into $tmp/NAME and compare.
check() {
  name=$1 layout=$2
  shift 2
  dest=$tmp/$name
  mkdir -p "$dest"
  if ! DESTDIR=$dest cmake --install "$build" --prefix "$prefix" "$@" >"$tmp/$name.log" 2>&1; then
    echo "FAIL $name: cmake --install failed:"; cat "$tmp/$name.log"; fail=1; return
  fi
  # cmake prints "-- Installing: PATH" / "-- Up-to-date: PATH" for every file it writes.
  outside=$(sed -n -e 's/^-- Installing: //p' -e 's/^-- Up-to-date: //p' "$tmp/$name.log" | grep -v "^$dest/" || true)
  if [ -n "$outside" ]; then
    echo "FAIL $name: written outside DESTDIR:"; echo "$outside"; fail=1
  fi
  (cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | LC_ALL=C sort) >"$tmp/$name.actual"
  expected "$layout" >"$tmp/$name.expected"
  if diff -u "$tmp/$name.expected" "$tmp/$name.actual" >"$tmp/$name.diff"; then
    echo "ok   $name: $(wc -l <"$tmp/$name.actual") files as expected ($layout layout)"
  else
    echo "FAIL $name: installed tree differs from the expected list (- expected, + installed):"
    sed -n '3,$p' "$tmp/$name.diff"
    fail=1
  fi
  # Programs and the rc.d script executable, everything else not.
  while read -r p; do
    [ -f "$dest$p" ] || continue
    case $p in
      */bin/*|*/sbin/*|*/libexec/*|*/rc.d/*) [ -x "$dest$p" ] || { echo "FAIL $name: $p is not executable"; fail=1; } ;;
      *) [ ! -x "$dest$p" ] || { echo "FAIL $name: $p is executable"; fail=1; } ;;
    esac
  done <"$tmp/$name.actual"
  if [ "$configured_prefix" = "$prefix" ]; then
    for pair in "etc/rc.d/vnetd:rc.d/vnetd" "$unitdir/vnetd.service:rc.d/vnetd.service"; do
      inst=${pair%%:*} orig=${pair#*:}
      case $inst in /*) ;; *) inst=$prefix/$inst ;; esac
      [ -f "$dest$inst" ] || continue
      cmp -s "$dest$inst" "$src/$orig" || { echo "FAIL $name: $inst differs from $orig"; fail=1; }
    done
  fi
}

check active "$active"
check freebsd freebsd --component layout-freebsd
check linux linux --component layout-linux
exit $fail
