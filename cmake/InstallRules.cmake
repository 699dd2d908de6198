# install() rules for both layouts (cmake/InstallDirs.cmake says which file goes where).
# Included from the top-level CMakeLists.txt once every target exists.
#
# Manual pages (man/*.8, man/*.5) and alerting/recording rules (prometheus/*.yml) are
# installed by glob: whatever those directories hold is installed, and
# tests/scripts/check_install.sh derives their expected entries the same way.

# rc.d/vnetd and rc.d/vnetd.service name /usr/local paths (the FreeBSD port's PREFIX and
# Linux's default prefix). The installed copies name the configured prefix's paths instead;
# with the default prefix /usr/local they are byte-for-byte the files in rc.d/.
function(vnetd_generate_with_prefix src dst from to)
  file(READ ${src} _text)
  string(REPLACE "${from}" "${to}" _text "${_text}")
  # Rewritten only when it changes (no needless reinstall); no @VAR@ expansion of the text.
  set(_old "")
  if(EXISTS ${dst})
    file(READ ${dst} _old)
  endif()
  if(NOT _old STREQUAL _text)
    file(WRITE ${dst} "${_text}")
  endif()
endfunction()
set(_vnetd_gen ${PROJECT_BINARY_DIR}/install)
# FreeBSD's rc.d script: /usr/local/{etc,sbin} -> PREFIX/{etc,sbin} (relative dirs only; an
# absolute CONFDIR or SBINDIR is used as given).
vnetd_generate_with_prefix(${PROJECT_SOURCE_DIR}/rc.d/vnetd ${_vnetd_gen}/vnetd
                           "/usr/local/" "${CMAKE_INSTALL_PREFIX}/")
# systemd unit: only the binary's path (its config path /etc/vnetd is not under the prefix).
vnetd_generate_with_prefix(${PROJECT_SOURCE_DIR}/rc.d/vnetd.service ${_vnetd_gen}/vnetd.service
                           "/usr/local/sbin/vnetd" "${VNETD_FULL_SBINDIR}/vnetd")
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/rc.d/vnetd ${PROJECT_SOURCE_DIR}/rc.d/vnetd.service)

file(GLOB VNETD_MAN8_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.8)
file(GLOB VNETD_MAN5_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.5)
file(GLOB VNETD_PROMETHEUS_RULES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/prometheus/*.yml)

# vnetd_install_tree(DIRS [install() options...]): every install rule, into the directories
# DIRS_BINDIR, DIRS_SBINDIR, ... (see vnetd_layout_dirs); the options (COMPONENT,
# EXCLUDE_FROM_ALL) are appended to each rule.
function(vnetd_install_tree d)
  install(TARGETS vnetd vnetd-hook RUNTIME DESTINATION ${${d}_SBINDIR} ${ARGN})
  install(TARGETS vnetctl RUNTIME DESTINATION ${${d}_BINDIR} ${ARGN})
  # vnetd-hook execs it when the daemon is down (src/cli/CMakeLists.txt bakes this path in).
  install(TARGETS vnetd-hook-standalone RUNTIME DESTINATION ${${d}_LIBEXECDIR} ${ARGN})
  if(${d}_RCDIR)
    install(PROGRAMS ${_vnetd_gen}/vnetd DESTINATION ${${d}_RCDIR} ${ARGN})
  endif()
  if(${d}_SYSTEMDUNITDIR)
    install(FILES ${_vnetd_gen}/vnetd.service DESTINATION ${${d}_SYSTEMDUNITDIR} ${ARGN})
  endif()
  # A sample only: the working file (vnetd.toml) is the administrator's (the port's @sample
  # copies it once; cmake --install never creates or overwrites it).
  install(FILES ${PROJECT_SOURCE_DIR}/config/vnetd.toml.sample DESTINATION ${${d}_CONFDIR} ${ARGN})
  install(FILES ${PROJECT_SOURCE_DIR}/config/jail.conf.sample ${PROJECT_SOURCE_DIR}/config/demo.toml
          DESTINATION ${${d}_EXAMPLESDIR} ${ARGN})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/grafana/ DESTINATION ${${d}_DATADIR}/grafana ${ARGN})
  if(VNETD_PROMETHEUS_RULES)
    install(FILES ${VNETD_PROMETHEUS_RULES} DESTINATION ${${d}_DATADIR}/prometheus ${ARGN})
  endif()
  if(VNETD_MAN8_PAGES)
    install(FILES ${VNETD_MAN8_PAGES} DESTINATION ${${d}_MANDIR}/man8 ${ARGN})
  endif()
  if(VNETD_MAN5_PAGES)
    install(FILES ${VNETD_MAN5_PAGES} DESTINATION ${${d}_MANDIR}/man5 ${ARGN})
  endif()
endfunction()

# What `cmake --install` installs.
vnetd_install_tree(VNETD_ACTIVE)

# Both layouts' defaults, for tests/scripts/check_install.sh only:
#   cmake --install BUILD --component layout-freebsd --prefix /usr/local
foreach(_layout freebsd linux)
  vnetd_layout_dirs(${_layout} _vnetd_${_layout})
  vnetd_install_tree(_vnetd_${_layout} COMPONENT layout-${_layout} EXCLUDE_FROM_ALL)
endforeach()
