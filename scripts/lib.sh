# Shared by scripts/test and scripts/demo: dependency installation for a fresh Debian 12
# or FreeBSD 14 machine (run as root). Sourced, not executed.

VNETD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages vnetd needs to build, test and run its tests (keep in sync with README).
VNETD_DEBIAN_PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git
  libevent-dev libpcap-dev prometheus-cpp-dev libtomlplusplus-dev nlohmann-json3-dev libmnl-dev
  libgtest-dev libgmock-dev
  zlib1g-dev  # gzip for /metrics (exporters/http_encoding.cc); FreeBSD: zlib is in base
  iproute2 iputils-ping tcpdump
  libnftables-dev  # NAT of bridges on Linux: libnftables in-process (vnetd's own table "ip vnetd")
  prometheus  # promtool and a real Prometheus server for the metrics tests
  mandoc  # mandoc -Tlint checks the manual pages in man/ (FreeBSD has it in base)
  python3 python3-pip
  dpkg-dev flex bison  # scripts/check-freebsd: unpacks Debian source packages; libpcap's grammar
)
# Debian source packages that scripts/check-freebsd builds as static FreeBSD libraries, at the
# version of the installed -dev package (so the headers it compiles against are the library's).
VNETD_FREEBSD_CROSS_SOURCES=(libevent prometheus-cpp libpcap zlib)
# FreeBSD packages (libpcap is in base).
VNETD_FREEBSD_PACKAGES=(
  cmake ninja pkgconf git libevent prometheus-cpp tomlplusplus nlohmann-json googletest
)

vnetd_log() { printf '==> %s\n' "$*" >&2; }
vnetd_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

vnetd_install_debian() {
  local missing=() p
  for p in "${VNETD_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || vnetd_die "missing packages (${missing[*]}); run as root to install them"
    vnetd_log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  vnetd_enable_debian_sources "${VNETD_FREEBSD_CROSS_SOURCES[@]}"
  # Zig (from PyPI) is the FreeBSD cross compiler used by scripts/check-freebsd.
  if ! python3 -c 'import ziglang' 2>/dev/null; then
    vnetd_log "installing ziglang from PyPI"
    # Debian's own python3 is "externally managed" (PEP 668); a pyenv/venv python is not.
    python3 -m pip install -q ziglang 2>/dev/null \
      || python3 -m pip install -q --break-system-packages ziglang \
      || vnetd_die "pip install ziglang failed"
  fi
}

# Debian source packages (scripts/check-freebsd builds some for FreeBSD).
# vnetd_debian_source_version SRCPKG: the source version of the installed binaries built from it.
vnetd_debian_source_version() {
  dpkg-query -W -f='${db:Status-Abbrev} ${source:Package} ${source:Version}\n' 2>/dev/null \
    | awk -v p="$1" '$1 == "ii" && $2 == p && v == "" { v = $3 } END { if (v != "") print v }'
}
# vnetd_debian_sources_missing SRCPKG...: those whose installed version apt-get source cannot fetch.
vnetd_debian_sources_missing() {
  local p v
  for p in "$@"; do
    v=$(vnetd_debian_source_version "$p")
    [ -n "$v" ] || { echo "$p"; continue; }
    # grep reads all of it (no -q): quitting at the first match would kill apt-cache with
    # SIGPIPE, which a caller with `set -o pipefail` (check-freebsd) takes for "missing".
    apt-cache showsrc --only-source "$p" 2>/dev/null | grep -x "Version: $v" >/dev/null || echo "$p=$v"
  done
}
# vnetd_enable_debian_sources SRCPKG...: make `apt-get source SRCPKG=VERSION` work for the
# installed versions. Debian 12's default /etc/apt/sources.list.d/debian.sources has only
# "Types: deb": when a source is missing, the same archives are added as deb-src in a file of
# our own (vnetd-deb-src.sources; the system's files are never edited), then apt-get update.
vnetd_enable_debian_sources() {
  local missing d=/etc/apt/sources.list.d
  missing=$(vnetd_debian_sources_missing "$@")
  [ -n "$missing" ] || return 0
  # Only scripts/check-freebsd needs them (and says so when they are missing).
  if [ "$(id -u)" -ne 0 ]; then
    vnetd_log "warning: no Debian source package for: ${missing//$'\n'/ }; scripts/check-freebsd needs them (run as root to add deb-src entries)"
    return 0
  fi
  if [ -f "$d/debian.sources" ] && [ ! -f "$d/vnetd-deb-src.sources" ]; then
    vnetd_log "adding deb-src entries for the Debian archives ($d/vnetd-deb-src.sources)"
    sed -E 's/^Types:.*/Types: deb-src/' "$d/debian.sources" > "$d/vnetd-deb-src.sources"
  elif [ ! -f "$d/debian.sources" ] && [ ! -f "$d/vnetd-deb-src.list" ] && grep -q '^deb ' /etc/apt/sources.list 2>/dev/null; then
    vnetd_log "adding deb-src entries for the Debian archives ($d/vnetd-deb-src.list)"
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$d/vnetd-deb-src.list"
  fi
  apt-get update -qq
  missing=$(vnetd_debian_sources_missing "$@")
  [ -z "$missing" ] || vnetd_die "Debian source packages not found after apt-get update: ${missing//$'\n'/ }"
}

vnetd_install_freebsd() {
  local missing=() p
  for p in "${VNETD_FREEBSD_PACKAGES[@]}"; do
    pkg info -e "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || vnetd_die "missing packages (${missing[*]}); run as root to install them"
    vnetd_log "installing FreeBSD packages: ${missing[*]}"
    env ASSUME_ALWAYS_YES=yes pkg install -y "${missing[@]}" >/dev/null
  fi
}

vnetd_install_deps() {
  case "$(uname -s)" in
    Linux)
      [ -f /etc/debian_version ] || vnetd_die "scripts install dependencies on Debian 12 (or FreeBSD 14); on other systems install the packages listed in scripts/lib.sh yourself and re-run with VNETD_SKIP_DEPS=1"
      vnetd_install_debian ;;
    FreeBSD) vnetd_install_freebsd ;;
    *) vnetd_die "unsupported system $(uname -s): vnetd supports FreeBSD and Linux" ;;
  esac
}

vnetd_jobs() { nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2; }

# vnetd_build DIR [cmake args...]: configure (once) and build.
vnetd_build() {
  local dir=$1; shift
  local gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$VNETD_ROOT" -B "$dir" "${gen[@]}" "$@" >/dev/null || return 1
  else
    cmake -S "$VNETD_ROOT" -B "$dir" "$@" >/dev/null || return 1
  fi
  cmake --build "$dir" -j "$(vnetd_jobs)"
}
