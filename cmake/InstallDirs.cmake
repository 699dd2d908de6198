# Where `cmake --install` puts vnetd: two layouts, chosen by VNETD_INSTALL_LAYOUT.
#
#   freebsd (the default on FreeBSD; PREFIX /usr/local, hier(7) and the ports tree's layout):
#     sbin/vnetd, sbin/vnetd-hook, bin/vnetctl, libexec/vnetd-hook-standalone,
#     etc/rc.d/vnetd, etc/vnetd.toml.sample, share/examples/vnetd/, share/vnetd/grafana/,
#     share/vnetd/prometheus/, share/man/man5, share/man/man8
#   linux (the default on Linux): the same under the prefix, except
#     - no rc.d script; rc.d/vnetd.service goes to systemd's unit directory (absolute:
#       `pkg-config --variable=systemdsystemunitdir systemd`, else /lib/systemd/system),
#     - the sample configuration goes to /etc/vnetd/ (absolute: the config path compiled into
#       the Linux build, cmake/BuildConfig.cmake, is /etc/vnetd/vnetd.toml),
#     - examples go to share/doc/vnetd/examples (Debian policy 12.6), not share/examples.
#
# vnetctl goes to bin, not sbin: besides root, members of [daemon] control_group may run its
# read-only commands (src/daemon/access_policy.h), and a non-root user's PATH on Debian has no
# sbin directory. vnetd and vnetd-hook are run by root only (rc.d, systemd, jail.conf): sbin.
#
# Relative directories are under CMAKE_INSTALL_PREFIX; absolute ones are not (DESTDIR is
# prepended to both). The active layout honours the usual GNUInstallDirs overrides
# (-DCMAKE_INSTALL_SBINDIR=..., ...) and VNETD_INSTALL_<DIR> for vnetd's own directories.
# Both layouts' pure defaults are also installable as the components layout-freebsd and
# layout-linux (EXCLUDE_FROM_ALL), so tests/scripts/check_install.sh checks both on one host.

if(VNETD_PLATFORM STREQUAL "freebsd")
  set(_vnetd_default_layout freebsd)
else()
  set(_vnetd_default_layout linux)
endif()
set(VNETD_INSTALL_LAYOUT ${_vnetd_default_layout} CACHE STRING
    "Installation layout: freebsd (PREFIX/etc/rc.d, PREFIX/etc) or linux (systemd unit, /etc/vnetd)")
set_property(CACHE VNETD_INSTALL_LAYOUT PROPERTY STRINGS freebsd linux)
if(NOT VNETD_INSTALL_LAYOUT MATCHES "^(freebsd|linux)$")
  message(FATAL_ERROR "VNETD_INSTALL_LAYOUT='${VNETD_INSTALL_LAYOUT}' is not a layout: use -DVNETD_INSTALL_LAYOUT=freebsd or linux")
endif()

# GNUInstallDirs gives share/man as MANDIR on Linux and on FreeBSD alike (CMake >= 3.25, this
# project's minimum: its GNUInstallDirs.cmake keeps "man" for the other BSDs only), which is
# where the ports tree now wants manual pages (Mk/bsd.port.mk: MANDIRS+= ${PREFIX}/share/man).
include(GNUInstallDirs)

# systemd's own answer where it has one (Debian 12: /lib/systemd/system), else Debian's path.
set(_vnetd_systemd_unitdir /lib/systemd/system)
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_get_variable(_vnetd_pc_unitdir systemd systemdsystemunitdir)
  if(_vnetd_pc_unitdir)
    set(_vnetd_systemd_unitdir ${_vnetd_pc_unitdir})
  endif()
endif()
set(VNETD_SYSTEMD_UNITDIR_DEFAULT ${_vnetd_systemd_unitdir})

# vnetd_layout_dirs(LAYOUT OUT): OUT_BINDIR, OUT_SBINDIR, OUT_LIBEXECDIR, OUT_MANDIR,
# OUT_CONFDIR, OUT_RCDIR (empty: none), OUT_SYSTEMDUNITDIR (empty: none), OUT_EXAMPLESDIR,
# OUT_DATADIR: the layout's defaults, the same on every host.
function(vnetd_layout_dirs layout out)
  set(${out}_BINDIR bin PARENT_SCOPE)
  set(${out}_SBINDIR sbin PARENT_SCOPE)
  set(${out}_LIBEXECDIR libexec PARENT_SCOPE)
  set(${out}_MANDIR share/man PARENT_SCOPE)
  set(${out}_DATADIR share/vnetd PARENT_SCOPE)
  if(layout STREQUAL "freebsd")
    set(${out}_CONFDIR etc PARENT_SCOPE)
    set(${out}_RCDIR etc/rc.d PARENT_SCOPE)
    set(${out}_SYSTEMDUNITDIR "" PARENT_SCOPE)
    set(${out}_EXAMPLESDIR share/examples/vnetd PARENT_SCOPE)
  else()
    set(${out}_CONFDIR /etc/vnetd PARENT_SCOPE)
    set(${out}_RCDIR "" PARENT_SCOPE)
    set(${out}_SYSTEMDUNITDIR ${VNETD_SYSTEMD_UNITDIR_DEFAULT} PARENT_SCOPE)
    set(${out}_EXAMPLESDIR share/doc/vnetd/examples PARENT_SCOPE)
  endif()
endfunction()

# The active layout: GNUInstallDirs' variables for the standard directories, VNETD_INSTALL_*
# (cache, defaults from the layout) for vnetd's own.
vnetd_layout_dirs(${VNETD_INSTALL_LAYOUT} _vnetd_def)
if(VNETD_INSTALL_LAYOUT STREQUAL "freebsd")
  # SYSCONFDIR is "etc" (PREFIX/etc), as the ports tree expects (ETCDIR is PREFIX/etc/PORTNAME).
  set(_vnetd_def_CONFDIR ${CMAKE_INSTALL_SYSCONFDIR})
  set(_vnetd_def_RCDIR ${CMAKE_INSTALL_SYSCONFDIR}/rc.d)
  set(_vnetd_def_EXAMPLESDIR ${CMAKE_INSTALL_DATAROOTDIR}/examples/vnetd)
else()
  set(_vnetd_def_EXAMPLESDIR ${CMAKE_INSTALL_DOCDIR}/examples)
endif()
option(VNETD_INSTALL_RC_SCRIPT
       "Install rc.d/vnetd (FreeBSD layout; the port turns this off: its USE_RC_SUBR installs it)" ON)
set(VNETD_INSTALL_CONFDIR ${_vnetd_def_CONFDIR} CACHE STRING "Where vnetd.toml.sample goes")
set(VNETD_INSTALL_EXAMPLESDIR ${_vnetd_def_EXAMPLESDIR} CACHE STRING "Where jail.conf.sample and demo.toml go")
set(VNETD_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/vnetd CACHE STRING "Where grafana/ and prometheus/ go")
set(VNETD_INSTALL_RCDIR ${_vnetd_def_RCDIR} CACHE STRING "Where the rc.d script goes (FreeBSD layout)")
set(VNETD_INSTALL_SYSTEMDUNITDIR ${_vnetd_def_SYSTEMDUNITDIR} CACHE STRING "Where vnetd.service goes (Linux layout)")

set(VNETD_ACTIVE_BINDIR ${CMAKE_INSTALL_BINDIR})
set(VNETD_ACTIVE_SBINDIR ${CMAKE_INSTALL_SBINDIR})
set(VNETD_ACTIVE_LIBEXECDIR ${CMAKE_INSTALL_LIBEXECDIR})
set(VNETD_ACTIVE_MANDIR ${CMAKE_INSTALL_MANDIR})
set(VNETD_ACTIVE_CONFDIR ${VNETD_INSTALL_CONFDIR})
set(VNETD_ACTIVE_EXAMPLESDIR ${VNETD_INSTALL_EXAMPLESDIR})
set(VNETD_ACTIVE_DATADIR ${VNETD_INSTALL_DATADIR})
set(VNETD_ACTIVE_RCDIR "")
set(VNETD_ACTIVE_SYSTEMDUNITDIR "")
if(VNETD_INSTALL_LAYOUT STREQUAL "freebsd")
  if(VNETD_INSTALL_RC_SCRIPT)
    set(VNETD_ACTIVE_RCDIR ${VNETD_INSTALL_RCDIR})
  endif()
else()
  set(VNETD_ACTIVE_SYSTEMDUNITDIR ${VNETD_INSTALL_SYSTEMDUNITDIR})
endif()

# Absolute form of a directory of the active layout (what the binaries and scripts must name).
function(vnetd_full_dir dir out)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
vnetd_full_dir(${VNETD_ACTIVE_LIBEXECDIR} VNETD_FULL_LIBEXECDIR)
vnetd_full_dir(${VNETD_ACTIVE_SBINDIR} VNETD_FULL_SBINDIR)
