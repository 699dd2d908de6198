// Dispatcher: the daemon's one event loop (libevent), in the spirit of Envoy's.
//
// Owns the event_base. File, timer and signal events are objects (RAII: destroying one
// removes it from the loop, so a callback can never run after its owner is gone).
// Signals are delivered by libevent's self-pipe, so callbacks run on the loop thread
// with no restrictions — signal handlers never do work.
//
// Threading: everything except post() and exceptions() must be called on the loop thread
// (or before run()). post() may be called from any thread — capture threads use it to
// hand snapshots to the loop; callbacks run on the loop thread in posting order.
//
// Exception boundary: every callback the loop runs (fd, timer and signal events, posted
// closures) is called inside a try that catches std::exception and anything else. A
// throw is logged (one line), counted (exceptions()) and the loop goes on with the next
// callback: nothing ever throws through libevent's C frames, and one failing callback
// (a capture that cannot make a pipe on reload, std::bad_alloc) does not stop the daemon.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "core/result.h"

struct event;
struct event_base;

namespace vnetd::daemon {

class Dispatcher;

class Event {
 public:
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Takes the event out of the loop now: it never fires again, not even if it is already
  // due in this loop iteration, and libevent forgets its fd (so another Event may watch a
  // new file that got the same number). Unlike destroying the Event, this may be done
  // inside the event's own callback; destroy it later (hand it to Dispatcher::post).
  // Loop thread.
  void cancel();
  // Puts a cancelled fd or signal event back in the loop (watched again from now on).
  // Loop thread.
  Result<void> resume();

 private:
  friend class Dispatcher;
  Event() = default;
  static void trampoline(int fd, short what, void* self);
  struct event* ev_ = nullptr;
  Dispatcher* owner_ = nullptr;
  std::function<void()> callback_;
};

class Dispatcher {
 public:
  using Callback = std::function<void()>;

  static Result<std::unique_ptr<Dispatcher>> create();
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Calls `cb` whenever `fd` is readable (level-triggered) until the Event is destroyed.
  Result<std::unique_ptr<Event>> onReadable(int fd, Callback cb);
  // Calls `cb` whenever `fd` is writable (level-triggered) until the Event is destroyed.
  // A socket is writable almost always: hold this Event only while output is pending
  // (after a write returned EAGAIN), or it fires on every loop iteration.
  Result<std::unique_ptr<Event>> onWritable(int fd, Callback cb);
  // Calls `cb` after `delay`, then every `delay` when `repeat`.
  Result<std::unique_ptr<Event>> onTimer(std::chrono::milliseconds delay, bool repeat, Callback cb);
  // Calls `cb` on the loop thread each time `signo` arrives.
  Result<std::unique_ptr<Event>> onSignal(int signo, Callback cb);

  // Any thread: runs `cb` on the loop thread soon. Never blocks on the loop.
  void post(Callback cb);

  // The underlying event_base, for libevent subsystems that run on this loop (evhttp).
  // Loop thread; owned by the Dispatcher.
  event_base* base() const { return base_; }

  // Runs until exit(). Loop thread.
  Result<void> run();
  // Makes run() return after the current callbacks. Loop thread (or post() it).
  void exit();

  // Callbacks that threw (and were caught). Any thread.
  uint64_t exceptions() const { return exceptions_.load(); }

 private:
  friend class Event;
  explicit Dispatcher(event_base* base) : base_(base) {}
  void runPosted();
  // Runs `cb` inside the exception boundary; `what` names it in the log line.
  void guarded(const Callback& cb, const char* what) noexcept;
  std::unique_ptr<Event> newEvent(Callback cb);

  event_base* base_;
  std::unique_ptr<Event> wakeup_;  // activated by post()
  std::mutex mutex_;
  std::deque<Callback> posted_;
  std::atomic<uint64_t> exceptions_{0};
};

}  // namespace vnetd::daemon
