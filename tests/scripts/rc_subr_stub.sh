# A stand-in for FreeBSD's /etc/rc.subr, sourced by a copy of rc.d/vnetd in
# check_rc_d.sh. It reproduces what run_rc_command does with the script's variables and
# with rc.conf's ${name}_* variables, rule for rule, from libexec/rc/rc.subr
# (run_rc_command, _run_rc_precmd, check_required_before/after, _run_rc_doit) — the
# service-jail branch from rc.subr with svcj (run_rc_command: ${name}_svcj, else
# svcj_all_enable) — but instead of running the start command it writes the argv that
# command would have, one word per line, to $RCSTUB_OUT. Nothing is started, loaded or
# killed.
#
# Inputs (environment): RCSTUB_CONF  rc.conf fragment that load_rc_config sources
#                       RCSTUB_OUT   where the start argv goes; extra records go to
#                                    $RCSTUB_OUT.kld (modules), .protect (protect(1)),
#                                    .svcj (a service jail would have been made)
#                       RCSTUB_ID    what `id -un` answers (default root)
#                       RCSTUB_ROOT  a second "/" for rc.subr's "is $command executable"
#                                    test (a directory holding usr/sbin/daemon)

warn() { echo "$0: WARNING: $*" >&2; }
err() { echo "$0: ERROR: $2" >&2; exit "$1"; }
info() { :; }
debug() { :; }
startmsg() { echo "$@"; }

checkyesno()
{
	eval _value=\$${1}
	case $_value in
	[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]|0) return 1 ;;
	*) warn "\$${1} is not set properly - see rc.conf(5)."; return 1 ;;
	esac
}

load_rc_config()
{
	if [ -n "${RCSTUB_CONF}" ] && [ -r "${RCSTUB_CONF}" ]; then
		. "${RCSTUB_CONF}"
	fi
}

# rc.subr checks the process name too; the stub only needs "is the pid in the file alive".
check_pidfile()
{
	[ -f "$1" ] || return
	read _pid _junk < "$1"
	[ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null && echo "$_pid"
}

load_kld() { echo "$*" >> "${RCSTUB_OUT}.kld"; }

check_required_before()
{
	local _f
	case "$1" in
	start)
		for _f in $required_vars; do
			if ! checkyesno $_f; then
				warn "\$${_f} is not enabled."
				[ -z "$rc_force" ] && return 1
			fi
		done
		for _f in $required_dirs; do
			if [ ! -d "${_f}/." ]; then
				warn "${_f} is not a directory."
				[ -z "$rc_force" ] && return 1
			fi
		done
		for _f in $required_files; do
			if [ ! -r "${_f}" ]; then
				warn "${_f} is not readable."
				[ -z "$rc_force" ] && return 1
			fi
		done
		;;
	esac
	return 0
}

check_required_after()
{
	local _f _args
	case "$1" in
	start)
		for _f in $required_modules; do
			case "${_f}" in
			*~*) _args="-e ${_f#*~} ${_f%%~*}" ;;
			*:*) _args="-m ${_f#*:} ${_f%%:*}" ;;
			*) _args="${_f}" ;;
			esac
			if ! load_kld ${_args}; then
				[ -z "$rc_force" ] && return 1
			fi
		done
		;;
	esac
	return 0
}

_run_rc_precmd()
{
	check_required_before "$rc_arg" || return 1
	if [ -n "$_precmd" ]; then
		eval "$_precmd $rc_extra_args"
		_return=$?
		if [ $_return -ne 0 ] && [ -z "$rc_force" ]; then
			return 1
		fi
	fi
	check_required_after "$rc_arg" || return 1
	return 0
}

run_rc_command()
{
	_return=0
	rc_arg=$1
	shift 1
	rc_extra_args="$*"
	case "$rc_arg" in
	fast*) rc_arg=${rc_arg#fast}; rc_fast=yes; rc_quiet=yes ;;
	force*) rc_force=yes; rc_arg=${rc_arg#force}; eval ${rcvar}=YES ;;
	one*) rc_arg=${rc_arg#one}; eval ${rcvar}=YES ;;
	quiet*) rc_arg=${rc_arg#quiet}; rc_quiet=yes ;;
	esac

	# rc.subr: ${name}_program overrides $command; procname defaults to $command.
	eval _override_command=\$${name}_program
	command=${_override_command:-$command}
	_procname=${procname:-${command}}

	# rc.subr with service jails: ${name}_svcj, else svcj_all_enable, else NO.
	eval _svcj=\$${name}_svcj
	[ -z "$_svcj" ] && _svcj=${svcj_all_enable:-NO}

	# rc.subr: $flags from the environment wins over ${name}_flags.
	if [ -n "$flags" ]; then
		rc_flags=$flags
	else
		eval rc_flags=\$${name}_flags
	fi
	eval _chdir=\$${name}_chdir _chroot=\$${name}_chroot \
	    _nice=\$${name}_nice _user=\$${name}_user \
	    _group=\$${name}_group _groups=\$${name}_groups \
	    _fib=\$${name}_fib _env=\$${name}_env \
	    _prepend=\$${name}_prepend _login_class=\${${name}_login_class:-daemon} \
	    _limits=\$${name}_limits _oomprotect=\$${name}_oomprotect \
	    _setup=\$${name}_setup _umask=\$${name}_umask
	if [ -n "$_user" ] && [ "$_user" = "${RCSTUB_ID:-root}" ]; then
		unset _user
	fi

	if [ -n "${rcvar}" ] && ! checkyesno ${rcvar}; then
		echo "Cannot '${rc_arg}' $name. Set ${rcvar} to YES in /etc/rc.conf."
		return 0
	fi

	eval _cmd=\$${rc_arg}_cmd _precmd=\$${rc_arg}_precmd _postcmd=\$${rc_arg}_postcmd
	if [ -n "$_cmd" ]; then
		if [ -n "$_env" ]; then
			eval "export -- $_env"
		fi
		_run_rc_precmd || return 1
		eval "$_cmd $rc_extra_args" || return 1
		return $_return
	fi

	case "$rc_arg" in
	start)
		_x="${_chroot}${_chroot:+/}${command}"
		if [ ! -x "$_x" ] && [ ! -x "${RCSTUB_ROOT}$_x" ]; then
			warn "run_rc_command: cannot run $command"
			return 1
		fi
		if ! _run_rc_precmd; then
			warn "failed precmd routine for ${name}"
			return 1
		fi
		if checkyesno _svcj; then
			echo "svcj-${name}" > "${RCSTUB_OUT}.svcj"
		fi
		if [ -n "$_chroot" ]; then
			_doit="\
${_nice:+nice -n $_nice }\
$_cpusetcmd \
${_fib:+setfib -F $_fib }\
${_env:+env $_env }\
chroot ${_user:+-u $_user }${_group:+-g $_group }${_groups:+-G $_groups }\
$_chroot $command $rc_flags $command_args"
		else
			_doit="\
${_fib:+setfib -F $_fib }\
${_env:+env $_env }\
$_cpusetcmd $command $rc_flags $command_args"
			if [ -n "$_user" ]; then
				_doit="su -m $_user -c 'sh -c \"$_doit\"'"
			fi
			if [ -n "$_nice" ]; then
				if [ -z "$_user" ]; then
					_doit="sh -c \"$_doit\""
				fi
				_doit="nice -n $_nice $_doit"
			fi
			if [ -n "$_prepend" ]; then
				_doit="$_prepend $_doit"
			fi
		fi
		# rc.subr prefixes "${_chdir:+cd $_chdir && }"; a shell operator, not argv.
		_doit="limits -C $_login_class $_limits $_doit"
		# _run_rc_doit runs: eval "$_doit". The same words, recorded instead of run.
		eval "set -- $_doit"
		: > "${RCSTUB_OUT}"
		for _w; do
			printf '%s\n' "$_w" >> "${RCSTUB_OUT}"
		done
		# rc.subr then applies protect(1) to the pid from $pidfile.
		case $_oomprotect in
		[Aa][Ll][Ll]) echo "protect -d -i -p PID" > "${RCSTUB_OUT}.protect" ;;
		[Yy][Ee][Ss]) echo "protect -p PID" > "${RCSTUB_OUT}.protect" ;;
		esac
		;;
	*)
		echo "rc_subr_stub: '$rc_arg' is not simulated" >&2
		return 1
		;;
	esac
	return $_return
}
