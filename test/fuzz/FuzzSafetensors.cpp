//===- FuzzSafetensors.cpp - libFuzzer target for the safetensors reader --===//
//
// Reads arbitrary bytes as a .safetensors file and, when they are accepted, converts every tensor to
// float32 with its own shape. Besides crashes and sanitizer reports (a WeightInfo pointing outside the
// buffer shows up as a heap overflow, since the bytes are copied into a buffer of exactly their size), it
// checks the store's own promises: names() is sorted and find() agrees with it, byte sizes match shapes,
// and reading with the right shape never fails.
//
//===----------------------------------------------------------------------===//
#include "runtime/src/Safetensors.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace {

[[noreturn]] void fail(const llvm::Twine &message) {
  llvm::errs() << "xf-fuzz-safetensors: " << message << "\n";
  std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  std::unique_ptr<xf::rt::WeightStore> store = xf::rt::WeightStore::fromBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(reinterpret_cast<const char *>(data), size),
                                           "fuzz.safetensors"),
      error);
  if (!store) {
    if (error.rfind("fuzz.safetensors: ", 0) != 0)
      fail("error does not start with the file: " + error);
    return 0;
  }
  if (!error.empty())
    fail("success with an error: " + error);

  std::vector<std::string> names = store->names();
  if (!std::is_sorted(names.begin(), names.end()))
    fail("names() is not sorted");
  std::vector<float> values;
  for (const std::string &name : names) {
    const xf::rt::WeightInfo *info = store->find(name);
    if (!info || info->name != name)
      fail("find('" + name + "') disagrees with names()");
    uint64_t count = 1;
    for (int64_t dim : info->shape)
      count *= uint64_t(dim); // cannot overflow: the reader checked it
    const bool bytes1 = info->type == xf::rt::WeightType::U8 || info->type == xf::rt::WeightType::Bool;
    uint64_t elementSize = info->type == xf::rt::WeightType::F32 ? 4 : bytes1 ? 1 : 2;
    if (info->bytes != count * elementSize)
      fail("tensor '" + name + "' has " + llvm::Twine(info->bytes) + " bytes for " + llvm::Twine(count) +
           " elements");
    if (info->type == xf::rt::WeightType::Bool) {
      // Masks: never read as floats.
      if (store->readF32(name, info->shape, nullptr).empty())
        fail("reading BOOL tensor '" + name + "' as floats succeeded");
      continue;
    }
    if (info->type == xf::rt::WeightType::U8) {
      // Packed data: never read as floats. A _blocks tensor shaped like MXFP4's is dequantized (or refused,
      // for a missing or mis-shaped _scales) with the shape it implies.
      if (store->readF32(name, info->shape, nullptr).empty())
        fail("reading U8 tensor '" + name + "' as floats succeeded");
      llvm::StringRef prefix(name);
      if (prefix.consume_back("_blocks") && info->shape.size() == 4 && info->shape[3] == 16 &&
          count <= (uint64_t(1) << 20)) {
        std::vector<int64_t> shape = {info->shape[0], info->shape[2] * 32, info->shape[1]};
        values.assign(count * 2, 0.0f);
        (void)store->readMxfp4(prefix, shape, values.data());
      }
      continue;
    }
    // bytes <= size, so this allocation is bounded by the input.
    values.assign(count, 0.0f);
    std::string problem = store->readF32(name, info->shape, values.data());
    if (!problem.empty())
      fail("reading '" + name + "' with its own shape failed: " + problem);
    std::vector<int64_t> wrong = info->shape;
    wrong.push_back(1);
    if (store->readF32(name, wrong, values.data()).empty())
      fail("reading '" + name + "' with a wrong shape succeeded");
  }
  llvm::StringSet<> used;
  if (store->unused(used) != names)
    fail("unused({}) differs from names()");
  return 0;
}
