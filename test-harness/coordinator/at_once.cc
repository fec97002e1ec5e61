#include "test-harness/coordinator/at_once.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace peerlab::harness {

void RunAtOnce(size_t n, const std::function<void(size_t)>& fn,
               size_t max_threads) {
  if (n == 0) return;
  const size_t threads = std::clamp<size_t>(max_threads, 1, n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
}

}  // namespace peerlab::harness
