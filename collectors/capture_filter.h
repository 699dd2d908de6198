// The kernel filter of a bridge capture (collectors/capture.cc opens it with libpcap).
#pragma once

#include <pcap.h>
#include <sys/time.h>

#include <string>

#include "core/config.h"

namespace vnetd::collectors {

// Installs the filter the kernel runs on every frame of the capture `p` (activated):
// with [capture] sample > 1 the sampling filter (collectors/sample_filter.h), otherwise one
// instruction that keeps every frame cut to `c.snaplen` bytes, so that the kernel never
// copies more of a frame than the capture reads. `skip_before`: frames stamped before it
// are from before the filter (zero: none). False with `problem` set when a sampling
// filter cannot be installed; the cut-only filter failing is logged and not fatal.
bool installCaptureFilter(pcap_t* p, const std::string& bridge, const CaptureConfig& c, std::string& problem,
                          timeval& skip_before);

}  // namespace vnetd::collectors
