// Per-thread scratch, reserved up front. Kernels keep scratch in thread_local buffers that grow on
// first use; which pool thread runs which job varies from call to call, so a thread's first use of
// some kernel (and its allocation) could otherwise come late in a run, in the middle of steady-state
// decoding. Each file with such buffers registers a function that grows them to a shape-independent
// floor (from a static initializer), and every ThreadPool thread runs all of them once, before its
// first job (workers when they start, callers on their first parallel_for).
#pragma once

namespace baleen {

using ScratchReserveFn = void (*)();

// Adds fn to the functions reserve_thread_scratch() runs; returns true (for static initializers).
// Thread-safe.
bool register_thread_scratch(ScratchReserveFn fn);

// Runs every registered function on the calling thread, the first time the thread calls it; later
// calls on that thread do nothing.
void reserve_thread_scratch();

}  // namespace baleen
