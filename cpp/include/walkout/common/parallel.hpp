// parallel_for: split [0, n) into contiguous chunks and run them on up to `threads` threads
// (0 = one per hardware core). The calling thread runs the first chunk itself, so n small
// enough for one chunk costs no thread start. Exceptions thrown by `body` are re-thrown in
// the caller (the first one wins).
//
// Callers release the GIL before calling this; `body` must not touch Python objects.
#pragma once

#include <cstddef>
#include <functional>

namespace walkout {

// Number of worker threads parallel_for uses when asked for 0: the hardware cores, at least 1.
std::size_t default_thread_count();

// Runs body(begin, end) over disjoint chunks covering [0, n). `min_chunk` keeps tiny jobs on
// one thread (a thread start costs tens of microseconds).
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body,
                  std::size_t threads = 0, std::size_t min_chunk = 1);

}  // namespace walkout
