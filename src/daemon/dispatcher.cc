#include "daemon/dispatcher.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <exception>
#include <mutex>

#include "core/log.h"

namespace vnetd::daemon {

Event::~Event() {
  if (ev_) event_free(ev_);  // event_free deletes a pending event first
}

void Event::cancel() {
  if (ev_) event_del(ev_);
}

Result<void> Event::resume() {
  if (!ev_ || event_add(ev_, nullptr) != 0) return plainError("libevent: cannot watch the event again");
  return success();
}

void Event::trampoline(int, short, void* self) {
  auto* e = static_cast<Event*>(self);
  e->owner_->guarded(e->callback_, "event callback");
}

void Dispatcher::guarded(const Callback& cb, const char* what) noexcept {
  // The log line itself allocates; if even that throws, the count still tells.
  try {
    try {
      cb();
    } catch (const std::exception& e) {
      exceptions_.fetch_add(1);
      VNETD_LOG_ERROR("%s failed: %s; the event loop goes on", what, e.what());
    } catch (...) {
      exceptions_.fetch_add(1);
      VNETD_LOG_ERROR("%s failed with an unknown exception; the event loop goes on", what);
    }
  } catch (...) {
  }
}

std::unique_ptr<Event> Dispatcher::newEvent(Callback cb) {
  std::unique_ptr<Event> e(new Event());
  e->callback_ = std::move(cb);
  e->owner_ = this;
  return e;
}

Result<std::unique_ptr<Dispatcher>> Dispatcher::create() {
  // Once per process, before any base exists: makes event_active() safe from other
  // threads, which post() relies on.
  static const int threads_ok = evthread_use_pthreads();
  if (threads_ok != 0) return plainError("libevent: cannot enable thread support");
  event_base* base = event_base_new();
  if (!base) return plainError("libevent: cannot create an event base");
  std::unique_ptr<Dispatcher> d(new Dispatcher(base));
  d->wakeup_ = d->newEvent([raw = d.get()] { raw->runPosted(); });
  d->wakeup_->ev_ = event_new(base, -1, 0, &Event::trampoline, d->wakeup_.get());
  if (!d->wakeup_->ev_) return plainError("libevent: cannot create the wakeup event");
  return d;
}

Dispatcher::~Dispatcher() {
  // Callbacks posted but never run (the loop stopped first) may own Events (handed over
  // to be destroyed off their own callbacks): they go while the base is still there.
  std::deque<Callback> unrun;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unrun.swap(posted_);
  }
  unrun.clear();
  wakeup_.reset();
  // Events owned by others must be destroyed before the Dispatcher (documented contract);
  // freeing the base last keeps their event_free() valid until then.
  event_base_free(base_);
}

Result<std::unique_ptr<Event>> Dispatcher::onReadable(int fd, Callback cb) {
  auto e = newEvent(std::move(cb));
  e->ev_ = event_new(base_, fd, EV_READ | EV_PERSIST, &Event::trampoline, e.get());
  if (!e->ev_ || event_add(e->ev_, nullptr) != 0)
    return plainError("libevent: cannot watch fd " + std::to_string(fd));
  return e;
}

Result<std::unique_ptr<Event>> Dispatcher::onWritable(int fd, Callback cb) {
  auto e = newEvent(std::move(cb));
  e->ev_ = event_new(base_, fd, EV_WRITE | EV_PERSIST, &Event::trampoline, e.get());
  if (!e->ev_ || event_add(e->ev_, nullptr) != 0)
    return plainError("libevent: cannot watch fd " + std::to_string(fd) + " for writing");
  return e;
}

Result<std::unique_ptr<Event>> Dispatcher::onTimer(std::chrono::milliseconds delay, bool repeat, Callback cb) {
  auto e = newEvent(std::move(cb));
  e->ev_ = event_new(base_, -1, repeat ? EV_PERSIST : 0, &Event::trampoline, e.get());
  timeval tv{static_cast<time_t>(delay.count() / 1000), static_cast<suseconds_t>((delay.count() % 1000) * 1000)};
  if (!e->ev_ || event_add(e->ev_, &tv) != 0) return plainError("libevent: cannot add a timer");
  return e;
}

Result<std::unique_ptr<Event>> Dispatcher::onSignal(int signo, Callback cb) {
  auto e = newEvent(std::move(cb));
  e->ev_ = event_new(base_, signo, EV_SIGNAL | EV_PERSIST, &Event::trampoline, e.get());
  if (!e->ev_ || event_add(e->ev_, nullptr) != 0)
    return plainError("libevent: cannot watch signal " + std::to_string(signo));
  return e;
}

void Dispatcher::post(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    posted_.push_back(std::move(cb));
  }
  event_active(wakeup_->ev_, 0, 0);
}

void Dispatcher::runPosted() {
  std::deque<Callback> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(posted_);
  }
  // Each closure on its own: one that throws does not take the rest of the batch with it.
  for (auto& cb : batch) guarded(cb, "posted callback");
}

Result<void> Dispatcher::run() {
  // EVLOOP_NO_EXIT_ON_EMPTY: an idle daemon with no events yet must keep running.
  if (event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY) < 0) return plainError("libevent: event loop failed");
  return success();
}

void Dispatcher::exit() { event_base_loopbreak(base_); }

}  // namespace vnetd::daemon
