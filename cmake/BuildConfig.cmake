# Generates vnetd/build_config.h: the only header whose content differs by OS.
# Used by the main build and, in script mode, by scripts/check-freebsd so the FreeBSD
# cross-compile sees exactly what a native FreeBSD build would.
#
# Script mode: cmake -DOUT=... -DPLATFORM=freebsd -DVERSION=... -DREVISION=... -P cmake/BuildConfig.cmake
set(_VNETD_BUILD_CONFIG_TEMPLATE "${CMAKE_CURRENT_LIST_DIR}/build_config.h.in")

function(vnetd_generate_build_config out platform version revision)
  set(VNETD_PLATFORM_NAME "${platform}")
  string(TOUPPER "${platform}" _up)
  set(VNETD_PLATFORM_MACRO "VNETD_PLATFORM_${_up}")
  if(platform STREQUAL "freebsd")
    set(VNETD_DEFAULT_CONFIG "/usr/local/etc/vnetd.toml")
    set(VNETD_DEFAULT_RUNDIR "/var/run")
    set(VNETD_DEFAULT_STATEDIR "/var/db/vnetd")
  else()
    set(VNETD_DEFAULT_CONFIG "/etc/vnetd/vnetd.toml")
    set(VNETD_DEFAULT_RUNDIR "/run")
    set(VNETD_DEFAULT_STATEDIR "/var/lib/vnetd")
  endif()
  set(VNETD_VERSION_STRING "${version}")
  set(VNETD_REVISION_STRING "${revision}")
  configure_file("${_VNETD_BUILD_CONFIG_TEMPLATE}" "${out}" @ONLY)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  vnetd_generate_build_config("${OUT}" "${PLATFORM}" "${VERSION}" "${REVISION}")
endif()
