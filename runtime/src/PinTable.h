//===- PinTable.h - host arrays kept on a device, counted --------------------===//
//
// Both GPU devices keep model weights on the device for a session: one device copy per host array, made on
// the first pin and released when the pin count returns to zero. The device's own lock guards the table.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_PINTABLE_H
#define XF_RUNTIME_SRC_PINTABLE_H

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstddef>

namespace xf::rt {

template <typename Copy>
class PinTable {
public:
  /// Counts a pin of the `bytes` at `data`; the first one makes the copy with `create` (on failure `destroy`
  /// gets what it left and nothing stays pinned). Pinning again with another size is an error.
  llvm::Error pin(const void *data, size_t bytes, llvm::function_ref<llvm::Error(Copy &)> create,
                  llvm::function_ref<void(Copy &)> destroy) {
    Entry &entry = entries[data];
    if (entry.count > 0) {
      if (entry.bytes != bytes)
        return llvm::createStringError(llvm::inconvertibleErrorCode(), "pinned twice with different sizes");
      ++entry.count;
      return llvm::Error::success();
    }
    if (llvm::Error err = create(entry.copy)) {
      destroy(entry.copy);
      entries.erase(data);
      return err;
    }
    entry.bytes = bytes;
    entry.count = 1;
    return llvm::Error::success();
  }

  /// Undoes one pin of `data`; the last one hands the copy to `destroy`.
  void unpin(const void *data, llvm::function_ref<void(Copy &)> destroy) {
    auto found = entries.find(data);
    if (found == entries.end() || --found->second.count > 0)
      return;
    destroy(found->second.copy);
    entries.erase(found);
  }

  /// The copy of `data` when it is pinned with exactly `bytes`, else nullptr.
  const Copy *find(const void *data, size_t bytes) const {
    auto found = entries.find(data);
    return found != entries.end() && found->second.bytes == bytes ? &found->second.copy : nullptr;
  }

  /// The copy of `data` whatever its size, which goes to `bytes`; nullptr when `data` is not pinned.
  Copy *find(const void *data, size_t &bytes) {
    auto found = entries.find(data);
    if (found == entries.end())
      return nullptr;
    bytes = found->second.bytes;
    return &found->second.copy;
  }

  /// Hands every copy to `destroy` (the device is going away).
  void clear(llvm::function_ref<void(Copy &)> destroy) {
    for (auto &entry : entries)
      destroy(entry.second.copy);
    entries.clear();
  }

private:
  struct Entry {
    Copy copy{};
    size_t bytes = 0;
    int count = 0;
  };
  llvm::DenseMap<const void *, Entry> entries;
};

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_PINTABLE_H
