#include "core/thread_scratch.h"

#include <mutex>
#include <vector>

namespace baleen {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<ScratchReserveFn> fns;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

bool register_thread_scratch(ScratchReserveFn fn) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.fns.push_back(fn);
  return true;
}

void reserve_thread_scratch() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  Registry& r = registry();
  std::vector<ScratchReserveFn> fns;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    fns = r.fns;
  }
  for (ScratchReserveFn fn : fns) fn();
}

}  // namespace baleen
