//===- MemRefCall.cpp - calling compiled kernels through memref descriptors ===//

#include "MemRefCall.h"

#include <cstdlib>
#include <utility>

using namespace xf::rt;

MemRefDescriptor::MemRefDescriptor(const xfrt_tensor &tensor) {
  int64_t rank = tensor.rank;
  auto dataWord = static_cast<int64_t>(reinterpret_cast<intptr_t>(tensor.data));
  words[0] = dataWord; // allocated
  words[1] = dataWord; // aligned
  words[2] = 0;        // offset
  int64_t stride = 1;
  for (int64_t dim = rank - 1; dim >= 0; --dim) {
    words[3 + dim] = tensor.shape[dim];
    words[3 + rank + dim] = stride;
    stride *= tensor.shape[dim];
  }
}

MemRefDescriptor::MemRefDescriptor(const void *data, int64_t rank, const int64_t *shape, const int64_t *strides) {
  auto dataWord = static_cast<int64_t>(reinterpret_cast<intptr_t>(data));
  words[0] = dataWord;
  words[1] = dataWord;
  words[2] = 0;
  for (int64_t dim = 0; dim < rank; ++dim) {
    words[3 + dim] = shape[dim];
    words[3 + rank + dim] = strides[dim];
  }
}

namespace {

template <size_t> using DescriptorPointer = void *;

// The C signature has one pointer parameter per operand; an index sequence spells it for each arity.
template <size_t... I>
int64_t callWorkItemsWithArity(void *function, std::vector<MemRefDescriptor> &descriptors,
                               std::index_sequence<I...>) {
  using Signature = int64_t (*)(DescriptorPointer<I>...);
  return reinterpret_cast<Signature>(function)(descriptors[I].get()...);
}

template <size_t... I>
void callEntryWithArity(void *function, std::vector<MemRefDescriptor> &descriptors, int64_t begin, int64_t end,
                        std::index_sequence<I...>) {
  using Signature = void (*)(DescriptorPointer<I>..., int64_t, int64_t);
  reinterpret_cast<Signature>(function)(descriptors[I].get()..., begin, end);
}

/// Calls call(std::make_index_sequence<arity>()) for the runtime arity. Callers have checked 1 <= arity <= 12
/// against the metadata, so anything else is a runtime bug.
template <typename Call> auto dispatchOnArity(size_t arity, Call &&call) {
  switch (arity) {
  case 1: return call(std::make_index_sequence<1>());
  case 2: return call(std::make_index_sequence<2>());
  case 3: return call(std::make_index_sequence<3>());
  case 4: return call(std::make_index_sequence<4>());
  case 5: return call(std::make_index_sequence<5>());
  case 6: return call(std::make_index_sequence<6>());
  case 7: return call(std::make_index_sequence<7>());
  case 8: return call(std::make_index_sequence<8>());
  case 9: return call(std::make_index_sequence<9>());
  case 10: return call(std::make_index_sequence<10>());
  case 11: return call(std::make_index_sequence<11>());
  case 12: return call(std::make_index_sequence<12>());
  }
  std::abort();
}

} // namespace

int64_t xf::rt::callWorkItems(void *workItems, std::vector<MemRefDescriptor> &descriptors) {
  return dispatchOnArity(descriptors.size(), [&](auto indices) {
    return callWorkItemsWithArity(workItems, descriptors, indices);
  });
}

void xf::rt::callEntry(void *entry, std::vector<MemRefDescriptor> &descriptors, int64_t begin, int64_t end) {
  dispatchOnArity(descriptors.size(), [&](auto indices) {
    callEntryWithArity(entry, descriptors, begin, end, indices);
  });
}
