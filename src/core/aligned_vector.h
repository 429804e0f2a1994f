// std::vector storage aligned to 64 bytes (a cache line): for buffers that kernels read with
// instructions that slow down on rows straddling cache lines (AMX tile loads cost ~6x more when each
// 64-byte row spans two lines, measured on Sapphire/Emerald Rapids). Use AlignedVector<T> like
// std::vector<T>.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace baleen {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <class U>
  explicit CacheLineAllocator(const CacheLineAllocator<U>& /*other*/) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t /*n*/) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>& /*other*/) const {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace baleen
