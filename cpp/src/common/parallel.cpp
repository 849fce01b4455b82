#include "walkout/common/parallel.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace walkout {

std::size_t default_thread_count() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<std::size_t>(hw);
}

void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body,
                  std::size_t threads, std::size_t min_chunk) {
  if (n == 0) return;
  if (threads == 0) threads = default_thread_count();
  min_chunk = std::max<std::size_t>(min_chunk, 1);
  const std::size_t chunks = std::max<std::size_t>(1, std::min(threads, n / min_chunk));
  if (chunks == 1) {
    body(0, n);
    return;
  }
  const std::size_t step = (n + chunks - 1) / chunks;
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&](std::size_t begin, std::size_t end) {
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(chunks - 1);
  for (std::size_t c = 1; c < chunks; ++c) {
    const std::size_t begin = c * step;
    if (begin >= n) break;
    workers.emplace_back(run, begin, std::min(n, begin + step));
  }
  run(0, std::min(n, step));
  for (auto& w : workers) w.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace walkout
