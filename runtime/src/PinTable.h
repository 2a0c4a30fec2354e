//===- PinTable.h - host arrays kept on a device, counted --------------------===//
//
// Both GPU devices keep model weights on the device for a session: one device copy per host array, made on
// the first pin and released when the pin count returns to zero. A resident pin (a session's activations)
// starts uninitialized and is the array's truth: kernels write their outputs into it on the device, and
// the host reads it back explicitly. The device's own lock guards the table.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_PINTABLE_H
#define XF_RUNTIME_SRC_PINTABLE_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <functional>
#include <map>

namespace xf::rt {

/// Bytes [offset, offset + bytes) of the host array at `data` (a pinned one's start).
struct HostRange {
  void *data = nullptr;
  size_t offset = 0, bytes = 0;
};

template <typename Copy>
class PinTable {
public:
  struct Found {
    Copy *copy = nullptr;
    size_t bytes = 0;
    bool resident = false;
  };

  /// Counts a pin of the `bytes` at `data`; the first one makes the copy with `create` (on failure `destroy`
  /// gets what it left and nothing stays pinned). Pinning again with another size or residency is an error.
  llvm::Error pin(const void *data, size_t bytes, bool resident, llvm::function_ref<llvm::Error(Copy &)> create,
                  llvm::function_ref<void(Copy &)> destroy) {
    Entry &entry = entries[data];
    if (entry.count > 0) {
      if (entry.bytes != bytes || entry.resident != resident)
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "pinned twice with different sizes or residency");
      ++entry.count;
      return llvm::Error::success();
    }
    if (llvm::Error err = create(entry.copy)) {
      destroy(entry.copy);
      entries.erase(data);
      return err;
    }
    entry.bytes = bytes;
    entry.resident = resident;
    entry.count = 1;
    if (resident)
      residentRanges[static_cast<const char *>(data)] = bytes;
    return llvm::Error::success();
  }

  /// Undoes one pin of `data`; the last one hands the copy to `destroy`.
  void unpin(const void *data, llvm::function_ref<void(Copy &)> destroy) {
    auto found = entries.find(data);
    if (found == entries.end() || --found->second.count > 0)
      return;
    destroy(found->second.copy);
    entries.erase(found);
    residentRanges.erase(static_cast<const char *>(data));
  }

  /// Whether `data` points into a resident array past its start: its host bytes are stale, and a call
  /// cannot bind a copy at an offset, so such an operand must be refused rather than read from the host.
  bool insideResident(const void *data) const {
    auto after = residentRanges.upper_bound(static_cast<const char *>(data));
    if (after == residentRanges.begin())
      return false;
    auto at = std::prev(after);
    const char *p = static_cast<const char *>(data);
    return p > at->first && p < at->first + at->second;
  }

  /// The copy of `data` when it is pinned with at least `bytes` (a call may use the front of a pinned
  /// array), else a Found with no copy.
  Found find(const void *data, size_t bytes) {
    auto found = entries.find(data);
    if (found == entries.end() || found->second.bytes < bytes)
      return {};
    return {&found->second.copy, found->second.bytes, found->second.resident};
  }

  /// Hands every copy to `destroy` (the device is going away).
  void clear(llvm::function_ref<void(Copy &)> destroy) {
    for (auto &entry : entries)
      destroy(entry.second.copy);
    entries.clear();
    residentRanges.clear();
  }

private:
  struct Entry {
    Copy copy{};
    size_t bytes = 0;
    int count = 0;
    bool resident = false;
  };
  llvm::DenseMap<const void *, Entry> entries;
  /// The resident entries' byte ranges by start, for insideResident.
  std::map<const char *, size_t, std::less<>> residentRanges;
};

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_PINTABLE_H
