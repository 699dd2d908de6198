#!/bin/sh
# Checks rc.d/vnetd: valid sh syntax and the rc.subr(8) conventions vnetd relies on.
# usage: check_rc_d.sh RC_SCRIPT
set -u
f=$1
fail=0
sh -n "$f" || { echo "FAIL: sh -n $f"; fail=1; }
need() {
  if grep -Eq "$1" "$f"; then echo "ok   $2"; else echo "FAIL $2 (no line matching: $1)"; fail=1; fi
}
need '^# PROVIDE: vnetd$' 'PROVIDE: vnetd'
need '^# REQUIRE: NETWORKING$' 'REQUIRE: NETWORKING'
need '^# BEFORE: jail$' 'BEFORE: jail'
need '^# KEYWORD: nojail shutdown$' 'KEYWORD: nojail shutdown'
need '^\. /etc/rc\.subr$' 'sources rc.subr'
need '^rcvar="vnetd_enable"$' 'rcvar'
need '^load_rc_config \$name$' 'load_rc_config'
need '^: \$\{vnetd_enable:="NO"\}$' 'vnetd_enable defaults to NO'
need '^: \$\{vnetd_config:=' 'vnetd_config default'
need '^: \$\{vnetd_flags:=' 'vnetd_flags default'
need '^command="/usr/sbin/daemon"$' 'runs under daemon(8)'
need '^command_args=".*-P \$\{pidfile\}.*-p \$\{vnetd_child_pidfile\}.* -r .*-S -T \$\{name\}' 'daemon -P -p -r -S -T'
need '^required_modules="if_bridge if_epair"$' 'required_modules'
need '^extra_commands=".*reload' 'reload command'
need 'kill -HUP "\$\(cat "\$\{vnetd_child_pidfile\}"\)"' 'reload signals the child pidfile'
need '^run_rc_command "\$1"$' 'run_rc_command'
exit $fail
