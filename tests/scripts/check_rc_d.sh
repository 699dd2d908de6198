#!/bin/sh
# Checks rc.d/vnetd: valid sh syntax, the rc.subr(8) conventions vnetd relies on, and —
# by running the script's start path against tests/scripts/rc_subr_stub.sh, which
# reproduces run_rc_command's rules — the exact argv daemon(8) and vnetd get for the
# rc.conf variables an administrator may set.
# usage: check_rc_d.sh RC_SCRIPT
set -u
f=$1
here=$(cd "$(dirname "$0")" && pwd)
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
need '^: \$\{vnetd_args:=' 'vnetd_args default'
need '^# vnetd_args .*' 'vnetd_args documented'
need '^# vnetd_flags .*' 'vnetd_flags documented'
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

# ---------------------------------------------------------------- the start path, run
# A copy of the script whose ". /etc/rc.subr" is the stub, and whose install paths
# (/usr/local/..., %%PREFIX%% in a port) point into a temp dir holding a fake vnetd that
# records how it is called.
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/sbin" "$T/etc" "$T/alt" "$T/root/usr/sbin" "$T/root/var/empty/usr/sbin"
# rc.subr refuses to start a $command that is not executable (in the chroot, if any).
for d in "$T/root/usr/sbin/daemon" "$T/root/var/empty/usr/sbin/daemon"; do
  printf '#!/bin/sh
exit 1
' > "$d"
  chmod +x "$d"
done
for bin in "$T/sbin/vnetd" "$T/alt/vnetd"; do
  printf '#!/bin/sh\necho "$0 $*" >> %s/vnetd.calls\nexit 0\n' "$T" > "$bin"
  chmod +x "$bin"
done
: > "$T/etc/vnetd.toml"
sed -e "s|^\. /etc/rc\.subr\$|. $here/rc_subr_stub.sh|" \
    -e "s|/usr/local/sbin/vnetd|$T/sbin/vnetd|g" \
    -e "s|/usr/local/etc/vnetd\.toml|$T/etc/vnetd.toml|g" "$f" > "$T/vnetd.rc"
if ! grep -q "^\. $here/rc_subr_stub.sh\$" "$T/vnetd.rc"; then
  echo "FAIL the script's '. /etc/rc.subr' line could not be pointed at the stub"
  exit 1
fi

# daemon(8)'s command line as daemon.c's getopt_long (shortopts "+cfHSp:P:ru:o:s:l:t:m:R:T:h",
# "+": options end at the first non-option) splits it: "opt ..." lines for daemon(8)'s
# own options, then "child WORD" lines for the command it runs.
split_daemon() {
  in_opts=1
  while [ $# -gt 0 ]; do
    a=$1
    if [ $in_opts = 1 ]; then
      case $a in
      --) in_opts=0; shift; continue ;;
      --*)
        n=${a#--}; n=${n%%=*}
        case $n in
        change-dir|close-fds|sighup|syslog|restart|help) echo "opt --$n" ;;
        output-file|output-mask|child-pidfile|supervisor-pidfile|restart-delay|title|user|syslog-priority|syslog-facility|syslog-tag)
          case $a in *=*) echo "opt --$n ${a#*=}" ;; *) shift; echo "opt --$n ${1-}" ;; esac ;;
        *) echo "opt unknown $a" ;;
        esac
        shift; continue ;;
      -?*)
        rest=${a#-}
        while [ -n "$rest" ]; do
          c=${rest%"${rest#?}"}; rest=${rest#?}
          case $c in
          c|f|H|S|r|h) echo "opt -$c" ;;
          p|P|u|o|s|l|t|m|R|T)
            if [ -n "$rest" ]; then echo "opt -$c $rest"; rest=; else shift; echo "opt -$c ${1-}"; fi ;;
          *) echo "opt unknown -$c" ;;
          esac
        done
        shift; continue ;;
      *) in_opts=0 ;;
      esac
    fi
    echo "child $a"
    shift
  done
}

# start LABEL RC.CONF-LINES [VAR=VALUE (environment)]
# Runs "start"; leaves the argv in $T/argv, stderr in $T/stderr, the status in $rc.
start() {
  label=$1 conf=$2
  shift 2
  rm -f "$T"/argv* "$T/vnetd.calls"
  printf 'vnetd_enable="YES"\n%s\n' "$conf" > "$T/rc.conf"
  env "$@" RCSTUB_CONF="$T/rc.conf" RCSTUB_OUT="$T/argv" RCSTUB_ROOT="$T/root" sh "$T/vnetd.rc" start > "$T/stdout" 2> "$T/stderr"
  rc=$?
}

# expect LABEL WRAPPER CHILD-EXTRA [CHILD0]: the recorded start ran WRAPPER (words before
# /usr/sbin/daemon), gave daemon(8) exactly -P <pid file> -r -S -T vnetd, and daemon(8)
# runs CHILD0 (default the installed vnetd) --foreground --config <config> CHILD-EXTRA.
expect() {
  label=$1 wrapper=$2 extra=$3 child0=${4:-$T/sbin/vnetd}
  if [ $rc -ne 0 ] || [ ! -f "$T/argv" ]; then
    echo "FAIL $label: start did not run (status $rc): $(cat "$T/stderr")"; fail=1; return
  fi
  set --
  while IFS= read -r w; do set -- "$@" "$w"; done < "$T/argv"
  pre=
  while [ $# -gt 0 ] && [ "$1" != /usr/sbin/daemon ]; do pre="$pre${pre:+ }$1"; shift; done
  if [ $# -eq 0 ]; then
    echo "FAIL $label: daemon(8) is not what rc.subr starts: $(tr '\n' ' ' < "$T/argv")"; fail=1; return
  fi
  shift
  got=$(split_daemon "$@")
  want=$(printf 'opt -P /var/run/vnetd_daemon.pid\nopt -r\nopt -S\nopt -T vnetd\nchild %s\nchild --foreground\nchild --config\nchild %s' \
    "$child0" "$T/etc/vnetd.toml")
  for w in $extra; do want=$(printf '%s\nchild %s' "$want" "$w"); done
  if [ "$pre" != "$wrapper" ]; then
    echo "FAIL $label: started through '$pre', expected '$wrapper'"; fail=1
  elif [ "$got" != "$want" ]; then
    echo "FAIL $label: daemon(8)'s argv is wrong"
    echo "  expected:"; printf '%s\n' "$want" | sed 's/^/    /'
    echo "  got:"; printf '%s\n' "$got" | sed 's/^/    /'
    fail=1
  else
    echo "ok   $label"
  fi
}

start defaults ''
expect 'start: daemon -P -r -S -T vnetd, then vnetd --foreground --config' 'limits -C daemon' ''
if [ "$(cat "$T/vnetd.calls" 2>/dev/null)" = "$T/sbin/vnetd --config $T/etc/vnetd.toml --check-config" ]; then
  echo "ok   start checks the configuration first"
else
  echo "FAIL start checks the configuration first: vnetd was called as: $(cat "$T/vnetd.calls" 2>/dev/null)"; fail=1
fi
if [ "$(tr '\n' ' ' < "$T/argv.kld" 2>/dev/null)" = "if_bridge if_epair " ]; then
  echo "ok   start loads if_bridge and if_epair"
else
  echo "FAIL start loads if_bridge and if_epair: $(cat "$T/argv.kld" 2>/dev/null)"; fail=1
fi

# The finding: rc.subr puts ${name}_flags right after $command, i.e. before daemon(8)'s
# options: "-c /other.toml" made daemon(8) chdir and exec /other.toml.
start vnetd_flags 'vnetd_flags="-c /other.toml"'
expect 'vnetd_flags go to vnetd, never to daemon(8)' 'limits -C daemon' '-c /other.toml'

start vnetd_args 'vnetd_args="--config /b.toml"'
expect 'vnetd_args go to vnetd' 'limits -C daemon' '--config /b.toml'

start both 'vnetd_args="-c /b.toml"
vnetd_flags="-f"'
expect 'vnetd_args, then vnetd_flags' 'limits -C daemon' '-c /b.toml -f'

start env_flags '' flags=-f
expect '$flags from the environment (rc.subr prefers it) goes to vnetd' 'limits -C daemon' '-f'

start program "vnetd_program=\"$T/alt/vnetd\""
expect 'vnetd_program is the vnetd binary, daemon(8) still supervises' 'limits -C daemon' '' "$T/alt/vnetd"
if grep -q "^$T/alt/vnetd --config" "$T/vnetd.calls" 2>/dev/null; then
  echo "ok   vnetd_program is also what configtest runs"
else
  echo "FAIL vnetd_program is also what configtest runs: $(cat "$T/vnetd.calls" 2>/dev/null)"; fail=1
fi

start env_fib 'vnetd_env="VNETD_X=1"
vnetd_fib="2"'
expect 'vnetd_env and vnetd_fib wrap daemon(8) (vnetd inherits them)' 'limits -C daemon setfib -F 2 env VNETD_X=1' ''

start svcj 'svcj_all_enable="YES"'
if [ -f "$T/argv.svcj" ]; then
  echo "FAIL svcj_all_enable: vnetd would start in a service jail (no access to the host's interfaces)"; fail=1
else
  expect 'never in a service jail, even with svcj_all_enable' 'limits -C daemon' ''
fi

start oomprotect 'vnetd_oomprotect="YES"'
if [ "$(cat "$T/argv.protect" 2>/dev/null)" = "protect -d -i -p PID" ]; then
  echo "ok   vnetd_oomprotect=YES protects daemon(8)'s children (vnetd) too"
else
  echo "FAIL vnetd_oomprotect=YES protects daemon(8)'s children (vnetd) too: $(cat "$T/argv.protect" 2>/dev/null)"
  fail=1
fi

for bad in 'vnetd_user="nobody"' 'vnetd_chroot="/var/empty"'; do
  v=${bad%%=*}
  start "$v" "$bad" RCSTUB_ID=root
  if [ -f "$T/argv" ]; then
    echo "FAIL $v is refused: started as $(tr '\n' ' ' < "$T/argv")"; fail=1
  elif ! grep -q "$v" "$T/stderr"; then
    echo "FAIL $v is refused with a message naming it: $(cat "$T/stderr")"; fail=1
  else
    echo "ok   $v is refused, and the message names it"
  fi
done
exit $fail
