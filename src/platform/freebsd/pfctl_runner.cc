// The production PfctlRunner (platform/freebsd/pf_nat.h): /sbin/pfctl through the shared
// child runner. FreeBSD backend only; the rest of pf_nat is platform-neutral.
#include <chrono>

#include "platform/child_process.h"
#include "platform/freebsd/pf_nat.h"

namespace vnetd::platform::fbsd {
namespace {

// pfctl loads a ruleset in well under a second; a pfctl still running after this is
// wedged (a pf ioctl stuck in the kernel, a hung /dev/pf), and the caller holds the
// state lock: every hook waits behind it.
constexpr std::chrono::seconds kPfctlTimeout{20};

class ChildPfctl final : public PfctlRunner {
 public:
  // platform/child_process.h: PATH only, descriptors 0-2 only, bounded wait.
  Result<ChildExit> run(const std::vector<std::string>& argv, const std::string& input,
                        size_t max_output) const override {
    ChildSpec spec;
    spec.program = kPfctl;
    spec.argv = argv;
    spec.input = input;
    spec.timeout = kPfctlTimeout;
    spec.max_output = max_output;
    spec.name = "pfctl";
    return runChild(spec);
  }
};

}  // namespace

const PfctlRunner& systemPfctl() {
  static const ChildPfctl pfctl;
  return pfctl;
}

}  // namespace vnetd::platform::fbsd
