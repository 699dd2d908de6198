#!/bin/sh
# Checks rc.d/vnetd.service: that it parses as a systemd unit and keeps the settings
# vnetd relies on. Prints one line per problem and exits 1, or one "ok" line and exits 0.
#
# 1. Structure (always): only [Unit], [Service] and [Install] sections, each once; every
#    other line blank, a comment or Key=Value; the required settings below present.
# 2. If systemd-analyze exists: "systemd-analyze verify" on a copy whose Exec* programs
#    that are not installed here are replaced by true(1) (verify refuses a missing
#    binary); any message about the unit (unknown key, bad value, ...) is a failure.
#
# usage: check_systemd_unit.sh UNIT_FILE
set -u

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
  echo "usage: $0 UNIT_FILE (a readable systemd unit)" >&2
  exit 2
fi
unit=$1

problems=$(awk '
  function bad(msg) { printf "FAIL %s:%d: %s\n", FILENAME, NR, msg; nbad++ }
  function has(sec, key) { return ((sec SUBSEP key) in val) }
  # Value of the last assignment of key in sec (systemd: the last one wins).
  function get(sec, key) { return has(sec, key) ? val[sec, key] : "" }
  function need(sec, key, want, why) {
    if (!has(sec, key)) { printf "FAIL %s: [%s] %s= missing (%s)\n", FILENAME, sec, key, why; nbad++ }
    else if (want != "" && get(sec, key) != want) {
      printf "FAIL %s: [%s] %s=%s, expected %s (%s)\n", FILENAME, sec, key, get(sec, key), want, why; nbad++
    }
  }
  BEGIN { sec = ""; cont = 0; nbad = 0; reload_check = 0; reload_hup = 0 }
  {
    sub(/\r$/, "")
    if (cont) { cont = ($0 ~ /\\$/); next }          # continuation of the previous value
    if ($0 ~ /^[ \t]*$/ || $0 ~ /^[ \t]*[#;]/) next  # blank or comment
    if ($0 ~ /^\[[^]]*\][ \t]*$/) {
      sec = $0; sub(/^\[/, "", sec); sub(/\][ \t]*$/, "", sec)
      if (sec != "Unit" && sec != "Service" && sec != "Install") bad("unknown section [" sec "]")
      if (seen[sec]++) bad("section [" sec "] appears twice")
      next
    }
    if ($0 !~ /^[A-Za-z][A-Za-z0-9]*=/) { bad("not a comment, [Section] or Key=Value: " $0); next }
    if (sec == "") { bad("setting before the first [Section]: " $0); next }
    key = $0; sub(/=.*/, "", key)
    v = $0; sub(/^[^=]*=/, "", v)
    val[sec, key] = v
    cont = ($0 ~ /\\$/)
    if (sec == "Service" && key == "ExecReload") {
      if (v ~ /--check-config/) reload_check = ++nreload
      else if (v ~ /-HUP/ && v ~ /\$MAINPID/) reload_hup = ++nreload
      else ++nreload
    }
  }
  END {
    if (!("Unit" in seen)) bad("no [Unit] section")
    if (!("Service" in seen)) bad("no [Service] section")
    if (!("Install" in seen)) bad("no [Install] section")
    need("Unit", "Description", "", "systemctl status shows it")
    need("Service", "Type", "simple", "vnetd --foreground does not fork or notify")
    need("Service", "ExecStart", "", "how vnetd is started")
    if (has("Service", "ExecStart") && get("Service", "ExecStart") !~ /--foreground/)
      { printf "FAIL %s: [Service] ExecStart= lacks --foreground (vnetd would daemonise under Type=simple)\n", FILENAME; nbad++ }
    need("Service", "ExecStartPre", "", "check the config before starting")
    if (has("Service", "ExecStartPre") && get("Service", "ExecStartPre") !~ /--check-config/)
      { printf "FAIL %s: [Service] ExecStartPre= lacks --check-config\n", FILENAME; nbad++ }
    if (!reload_hup)
      { printf "FAIL %s: [Service] no ExecReload= sending -HUP to $MAINPID (reload)\n", FILENAME; nbad++ }
    else if (!reload_check || reload_check > reload_hup)
      { printf "FAIL %s: [Service] no ExecReload= with --check-config before the -HUP one\n", FILENAME; nbad++ }
    need("Service", "KillMode", "process", "stop signals vnetd only, never its helpers")
    need("Service", "Restart", "on-failure", "a crashed vnetd comes back")
    need("Install", "WantedBy", "multi-user.target", "systemctl enable")
    if (get("Service", "PrivateNetwork") ~ /^(yes|true|on|1)$/)
      { printf "FAIL %s: [Service] PrivateNetwork= would hide the host network vnetd manages\n", FILENAME; nbad++ }
    if (get("Service", "ProtectSystem") == "strict" && !has("Service", "ReadWritePaths"))
      { printf "FAIL %s: [Service] ProtectSystem=strict without ReadWritePaths= (state dir, /run)\n", FILENAME; nbad++ }
    if (has("Service", "RestrictAddressFamilies")) {
      n = split("AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_PACKET", fam, " ")
      for (i = 1; i <= n; i++)
        if ((" " get("Service", "RestrictAddressFamilies") " ") !~ (" " fam[i] " "))
          { printf "FAIL %s: [Service] RestrictAddressFamilies= lacks %s\n", FILENAME, fam[i]; nbad++ }
    }
    exit (nbad > 0)
  }
' "$unit")
status=$?
if [ $status -ne 0 ]; then
  [ -n "$problems" ] && echo "$problems" || echo "FAIL $unit: awk could not read it"
  exit 1
fi

verified="structure"
if command -v systemd-analyze >/dev/null 2>&1; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_systemd_unit.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
  trap 'rm -rf "$tmp"' EXIT
  name=$(basename "$unit")
  true_bin=$(command -v true)
  case "$true_bin" in /*) ;; *) true_bin=/bin/true ;; esac
  # Exec*=[prefixes]PROGRAM args: keep PROGRAM if it is installed here, else use true(1).
  awk -v t="$true_bin" '
    /^Exec[A-Za-z]*=/ {
      key = $0; sub(/=.*/, "", key)
      rest = $0; sub(/^[^=]*=/, "", rest)
      pre = rest; sub(/[^-@:+!].*$/, "", pre)     # systemd prefixes: - @ : + !
      rest = substr(rest, length(pre) + 1)
      prog = rest; sub(/[ \t].*$/, "", prog)
      args = substr(rest, length(prog) + 1)
      if (system("test -x \"" prog "\"") != 0) prog = t
      print key "=" pre prog args
      next
    }
    { print }
  ' "$unit" > "$tmp/$name" || { echo "FAIL: cannot write $tmp/$name"; exit 1; }
  out=$(cd "$tmp" && systemd-analyze verify --man=no "./$name" 2>&1)
  rc=$?
  # Messages about other units (the host's own files) are not ours to judge.
  mine=$(printf '%s\n' "$out" | grep -F -e "$tmp/$name" -e "$name:" -e "Unit $name " | head -n 1)
  if [ -n "$mine" ]; then
    echo "FAIL $unit: systemd-analyze verify: $(printf '%s' "$mine" | sed "s#$tmp/##")"
    exit 1
  fi
  if [ $rc -eq 0 ]; then
    verified="structure, systemd-analyze verify"
  else
    # Failed without naming the unit: the tool cannot run here (no manager, sandbox).
    verified="structure; systemd-analyze verify unusable here: $(printf '%s\n' "$out" | head -n 1)"
  fi
fi
echo "ok   $unit ($verified)"
exit 0
