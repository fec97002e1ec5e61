// peerlab-sim's heap in transparent huge pages (2 MiB), when it links
// tcmalloc (CMakeLists.txt): tcmalloc asks the system for memory through
// tc_get_sysalloc_override's allocator, which this file provides.
//
// Why: a simulation of N members holds N² member records, name indexes
// and queue entries (4.6 GiB at 10,000 members), and nearly every message
// a member handles reads a few of them at random: a cache miss each, and
// with 4 KiB pages a TLB miss too, whose page walk misses the cache as
// well (the page tables of a 4 GiB heap are 8 MiB). In 2 MiB pages the
// walks mostly hit. Kernels set to transparent_hugepage=madvise (as
// here) give huge pages only to memory marked with madvise(
// MADV_HUGEPAGE), and tcmalloc does not mark its memory, so this
// allocator maps 64 MiB at a time, 2 MiB-aligned, marked. Same
// simulation (trace hash), about 6 % less CPU at 3,000-5,000 members
// (bench/RESULTS.md, "The simulator at 10,000 members", sixth session).
// Where the kernel gives no huge pages the mark does nothing.
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>

// tcmalloc's (gperftools 2.x) interface for the memory it takes from the
// system (gperftools/malloc_extension.h, not installed by Debian's
// libtcmalloc-minimal4): the layout of its virtual table is the ABI.
class SysAllocator {
 public:
  SysAllocator() = default;
  virtual ~SysAllocator() = default;
  // `size` bytes aligned to `alignment`; the size given is in
  // *actual_size. nullptr: none.
  virtual void* Alloc(size_t size, size_t* actual_size, size_t alignment) = 0;
};

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kChunk = size_t{64} << 20;

// Hands out consecutive pieces of 2 MiB-aligned chunks, marked for huge
// pages. Memory is never given back (tcmalloc releases pages with
// madvise, which works here as on its own mappings). tcmalloc calls it
// under its page heap lock.
class HugePageAllocator : public SysAllocator {
 public:
  explicit HugePageAllocator(SysAllocator* fallback) : fallback_(fallback) {}

  void* Alloc(size_t size, size_t* actual_size, size_t alignment) override {
    if (alignment < kPage) alignment = kPage;
    size = (size + kPage - 1) & ~(kPage - 1);
    uintptr_t at = Align(next_, alignment);
    if (next_ == 0 || at + size > end_) {
      size_t want = std::max(kChunk, size + alignment);
      want = (want + kHugePage - 1) & ~(kHugePage - 1);
      void* mapped = mmap(nullptr, want + kHugePage, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (mapped == MAP_FAILED) {
        return fallback_ != nullptr
                   ? fallback_->Alloc(size, actual_size, alignment)
                   : nullptr;
      }
      const uintptr_t base =
          Align(reinterpret_cast<uintptr_t>(mapped), kHugePage);
      madvise(reinterpret_cast<void*>(base), want, MADV_HUGEPAGE);
      next_ = base;
      end_ = base + want;
      at = Align(next_, alignment);
    }
    next_ = at + size;
    if (actual_size != nullptr) *actual_size = size;
    return reinterpret_cast<void*>(at);
  }

 private:
  static constexpr size_t kPage = 4096;
  static uintptr_t Align(uintptr_t p, size_t alignment) {
    return (p + alignment - 1) & ~(uintptr_t{alignment} - 1);
  }

  SysAllocator* const fallback_;
  uintptr_t next_ = 0;
  uintptr_t end_ = 0;
};

// tcmalloc asks before any allocation (before static constructors run):
// built in place, never destroyed.
alignas(HugePageAllocator) unsigned char storage[sizeof(HugePageAllocator)];

}  // namespace

// Overrides tcmalloc's weak definition, which returns `def` (sbrk, then
// mmap).
SysAllocator* tc_get_sysalloc_override(SysAllocator* def) {
  return new (storage) HugePageAllocator(def);
}
