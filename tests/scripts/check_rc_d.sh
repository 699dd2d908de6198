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
# The opposite of need: no line may match.
refuse() {
  if grep -Eq "$1" "$f"; then echo "FAIL $2 (a line matches: $1)"; fail=1; else echo "ok   $2"; fi
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
need '^: \$\{vnetd_pidfile:="/var/run/vnetd\.pid"\}$' 'vnetd_pidfile defaults to /var/run/vnetd.pid'
need '^# vnetd_pidfile .*' 'vnetd_pidfile documented'
need '^#.*pidfile.*\[daemon\]' 'documents that vnetd_pidfile must match [daemon] pidfile'
need '^: \$\{vnetd_flags:=' 'vnetd_flags default'
# daemon(8) supervises: stop/status use its -P pid file, which is the one rc.subr knows.
need '^pidfile="/var/run/\$\{name\}_daemon\.pid"$' 'pidfile is the supervisor pid file'
need '^command="/usr/sbin/daemon"$' 'runs under daemon(8)'
need '^procname="/usr/sbin/daemon"$' 'procname is daemon(8) (stop signals the supervisor)'
need '^command_args=".*-P \$\{pidfile\}.* -r .*-S -T \$\{name\} .*--foreground' 'daemon -P -r -S -T, vnetd --foreground'
# vnetd flock()s its own pid file; daemon(8) -p would flock the same file via pidfile(3).
refuse '^command_args=".* -p ' 'no daemon(8) -p (vnetd writes and locks its own pid file)'
refuse '^[^#]*-p \$\{vnetd_pidfile\}' 'vnetd_pidfile is never handed to daemon(8) -p'
refuse '^sig_stop=' 'stop sends the default SIGTERM (daemon(8) forwards it to vnetd)'
need '^required_modules="if_bridge if_epair"$' 'required_modules'
need '^extra_commands=".*reload' 'reload command'
need '^extra_commands=".*configtest' 'configtest command'
need '^reload_precmd="vnetd_configtest"$' 'reload checks the config first'
need '^reload_cmd="vnetd_reload"$' 'custom reload (daemon(8) does not forward SIGHUP)'
need 'check_pidfile "\$\{vnetd_pidfile\}"' 'reload reads vnetd'"'"'s own pid file'
need 'kill -HUP "\$\{?_pid\}?"' 'reload sends SIGHUP to that pid'
need '^run_rc_command "\$1"$' 'run_rc_command'
exit $fail
