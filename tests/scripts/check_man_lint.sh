#!/bin/sh
# mandoc -Tlint -Wwarning on each manual page in MANDIR: any message of level WARNING or
# worse fails (STYLE messages, such as cross references to pages this host does not have,
# are below that level). mandoc: Debian package mandoc (scripts/lib.sh), FreeBSD base.
# The four names are fixed: the install rules install man/*.8 and man/*.5.
# usage: check_man_lint.sh MANDIR
set -u
dir=$1
command -v mandoc >/dev/null 2>&1 || { echo "FAIL: mandoc not found (Debian: apt-get install mandoc; scripts/lib.sh installs it)"; exit 1; }
fail=0
for page in vnetd.8 vnetd-hook.8 vnetctl.8 vnetd.toml.5; do
  f=$dir/$page
  if [ ! -f "$f" ]; then echo "FAIL $page: missing"; fail=1; continue; fi
  out=$(mandoc -Tlint -Wwarning "$f" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    echo "FAIL $page: mandoc -Tlint -Wwarning exited $rc"
    printf '%s\n' "$out"
    fail=1
  else
    echo "ok   $page"
  fi
done
exit $fail
