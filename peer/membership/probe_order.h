// ProbeOrder: the members' indices in the order a node probes them, with
// insertion at a random place (a new member is probed soon, but not by
// everyone at once) and random access by position (picking gossip and
// push/pull partners).
//
// A std::vector would do, but an insertion in the middle moves half of it:
// O(N) per member learned, O(N²) per node, O(N³) for a simulated cluster
// of N nodes that all learn each other (a 20 KB memmove per insertion at
// 10,000 members). Here the positions are kept in blocks of at most
// 2 * kBlock indices, with each block's first position: an insertion or
// erasure moves at most one block and updates the starts after it
// (O(kBlock + N / kBlock)), and access by position is a binary search over
// the starts. The order of the elements is exactly a vector's under the
// same operations.
#ifndef PEERLAB_PEER_MEMBERSHIP_PROBE_ORDER_H_
#define PEERLAB_PEER_MEMBERSHIP_PROBE_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace peerlab::membership {

class ProbeOrder {
 public:
  static constexpr size_t kBlock = 256;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // REQUIRES: i < size().
  uint32_t operator[](size_t i) const {
    const size_t b = BlockOf(i);
    return blocks_[b][i - starts_[b]];
  }

  // Inserts `value` before position `pos` (at the end when pos == size()).
  // REQUIRES: pos <= size().
  void Insert(size_t pos, uint32_t value);
  // Erases the element at `pos`. REQUIRES: pos < size().
  void Erase(size_t pos);
  // The position of the first element equal to `value`, if any (O(N)).
  std::optional<size_t> Find(uint32_t value) const;

  // All elements, in order.
  std::vector<uint32_t> ToVector() const;
  // Replaces all elements with `values`, in their order.
  void Assign(std::vector<uint32_t> values);

 private:
  // The block holding position i (i < size_), or the last block when
  // i == size_.
  size_t BlockOf(size_t i) const;

  std::vector<std::vector<uint32_t>> blocks_;
  std::vector<size_t> starts_;  // starts_[b]: position of blocks_[b][0]
  size_t size_ = 0;
};

}  // namespace peerlab::membership

#endif  // PEERLAB_PEER_MEMBERSHIP_PROBE_ORDER_H_
