// A thread that opens and closes the capture's spoofing guards (collectors/capture.cc), so
// that the capture thread never waits for either.
//
// Why: on Linux both wait for an RCU grace period in the kernel — libpcap's TPACKET ring
// setup (net/packet/af_packet.c packet_set_ring) and the socket's release
// (packet_release) each call synchronize_net: 13 ms and 27 ms measured on this project's
// machines — and done on the capture thread they stalled the bridge capture while its
// ring filled: per jail started or stopped, and for seconds at a daemon start with
// hundreds of jail ports.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "collectors/capture_aggregator.h"  // MacBytes
#include "platform/host.h"

namespace vnetd::collectors {

// `Handle`: a movable owner that closes on destruction (the capture's Pcap); null when
// an open failed. Opens run one at a time in request order; closes before the next open.
template <class Handle>
class GuardWorker {
 public:
  // Opens a guard on an interface for a MAC; null with `problem` set on failure.
  using Opener = std::function<Handle(const std::string& interface, const MacBytes& mac, std::string& problem)>;
  struct Opened {
    uint64_t ticket = 0;
    Handle handle;  // null: `problem` says why
    std::string problem;
  };

  // `wake` is called (on the worker's thread) whenever take() has something new.
  GuardWorker(Opener opener, std::function<void()> wake) : opener_(std::move(opener)), wake_(std::move(wake)) {}
  ~GuardWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  GuardWorker(const GuardWorker&) = delete;
  GuardWorker& operator=(const GuardWorker&) = delete;

  // Asks for a guard; the answer comes from take() with the same ticket. Never blocks
  // on the kernel.
  void open(uint64_t ticket, const std::string& interface, const MacBytes& mac) {
    push([&] { opens_.push_back({ticket, interface, mac}); });
  }
  // Closes `handle` on the worker's thread. Never blocks on the kernel.
  void close(Handle handle) {
    if (handle) push([&] { closes_.push_back(std::move(handle)); });
  }
  // What was opened since the last call. One caller at a time.
  std::vector<Opened> take() {
    if (!ready_.load(std::memory_order_acquire)) return {};
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.store(false, std::memory_order_relaxed);
    std::vector<Opened> out = std::move(done_);
    done_.clear();
    return out;
  }

 private:
  struct OpenRequest {
    uint64_t ticket;
    std::string interface;
    MacBytes mac;
  };
  template <class F>
  void push(F&& add) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      add();
      // Started on the first request: a bridge without jail ports needs no thread.
      if (!thread_.joinable()) thread_ = std::thread([this] {
          platform::nameThisThread("vnetd-guards");
          run();
        });
    }
    cv_.notify_one();
  }
  void run() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals are the daemon's loop thread's
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !opens_.empty() || !closes_.empty(); });
      if (stop_) return;  // what is left is closed by the destructor's members
      std::vector<Handle> closing = std::move(closes_);
      closes_.clear();
      std::optional<OpenRequest> request;
      if (!opens_.empty()) {
        request = std::move(opens_.front());
        opens_.pop_front();
      }
      lock.unlock();
      closing.clear();  // the slow part, outside the lock
      Opened opened;
      if (request) {
        opened.ticket = request->ticket;
        opened.handle = opener_(request->interface, request->mac, opened.problem);
      }
      lock.lock();
      if (request) {
        done_.push_back(std::move(opened));
        ready_.store(true, std::memory_order_release);
        wake_();
      }
    }
  }

  const Opener opener_;
  const std::function<void()> wake_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;               // guarded by mutex_
  std::deque<OpenRequest> opens_;   // guarded by mutex_
  std::vector<Handle> closes_;      // guarded by mutex_
  std::vector<Opened> done_;        // guarded by mutex_
  std::atomic<bool> ready_{false};  // done_ is not empty
  std::thread thread_;              // started once, under mutex_
};

}  // namespace vnetd::collectors
