//===- Safetensors.h - reading model weights from .safetensors files --------===//
//
// The weights of a Hugging Face checkpoint: one model.safetensors, or several shards listed by a
// model.safetensors.index.json. Files are memory-mapped and validated completely when opened (header,
// dtypes, shapes, every tensor's bytes inside its file), so that a WeightStore that opened successfully
// can hand out any tensor without further checks. Only the float types a model's weights come in are
// accepted (F32, F16, BF16); readF32 widens them exactly. Nothing here throws: failures come back as
// one-line messages that start with the file they concern.
//
// Format: https://github.com/huggingface/safetensors#format. An 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, then the data section, to which the offsets are relative.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_SAFETENSORS_H
#define XF_RUNTIME_SRC_SAFETENSORS_H

#include "runtime/src/Float16.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xf::rt {

/// U8 holds packed data (MXFP4 blocks and scales), read only through readMxfp4.
/// BOOL is taken so that the masks older checkpoints saved as buffers (GPT-NeoX's attention.bias) can be
/// ignored by name; like U8, it is never read as floats.
enum class WeightType { F32, F16, BF16, U8, Bool };

/// The safetensors dtype name ("F32", "F16", "BF16", "U8", "BOOL").
llvm::StringRef weightTypeName(WeightType type);

/// One tensor of a checkpoint. `data` points into the mapped file and holds `bytes` bytes of little-endian
/// elements in row-major order; it lives as long as the WeightStore and is not necessarily aligned.
struct WeightInfo {
  std::string name;
  WeightType type;
  std::vector<int64_t> shape;
  const uint8_t *data;
  uint64_t bytes;
  std::string file; // the path of the .safetensors file holding it
};

class WeightStore {
public:
  /// Opens `path`: a .safetensors file, a model.safetensors.index.json (any path ending in .json), or a
  /// directory holding model.safetensors or, failing that, model.safetensors.index.json. Shards are
  /// resolved relative to the index's directory. On failure returns nullptr and sets `error`.
  static std::unique_ptr<WeightStore> open(const std::string &path, std::string &error);

  /// Reads one .safetensors image held in `buffer`, whose identifier stands for the file in messages.
  /// This is what open() does for each file; the fuzz target calls it directly.
  static std::unique_ptr<WeightStore> fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                                 std::string &error);

  /// The tensor called `name`, or nullptr if there is none.
  const WeightInfo *find(llvm::StringRef name) const;

  /// The names of all tensors, sorted.
  std::vector<std::string> names() const;

  /// Converts tensor `name` to float32 into `dst` (room for the product of `expectedShape` floats) after
  /// checking that it exists and has exactly `expectedShape`. Returns an empty string on success, or a
  /// message that starts with the file and names the tensor: "<file>: weight 'x' has shape [64, 32] but
  /// the model needs [64, 64]", "<path opened>: missing weight 'x'".
  std::string readF32(llvm::StringRef name, llvm::ArrayRef<int64_t> expectedShape, float *dst) const;
  /// readF32's checks without the conversion: on success sets `info` to the tensor, which holds floats of
  /// exactly `expectedShape`.
  std::string checkFloat(llvm::StringRef name, llvm::ArrayRef<int64_t> expectedShape, const WeightInfo *&info) const;

  /// Dequantizes the MXFP4 pair `prefix`_blocks (U8 [E, R, G, 16]: 32 e2m1 values per group, the low nibble
  /// first) and `prefix`_scales (U8 [E, R, G]: e8m0 exponents, bias 127) into `dst` as [E, G * 32, R] (the
  /// layout `expectedShape` names, that of the unquantized tensor `prefix`, as Hugging Face transposes it
  /// after dequantizing). Exact in float32. Errors name the tensors, like readF32's.
  std::string readMxfp4(llvm::StringRef prefix, llvm::ArrayRef<int64_t> expectedShape, float *dst) const;
  /// The checks of readMxfp4 without the dequantization: on success sets `blocks` and `scales`.
  std::string findMxfp4(llvm::StringRef prefix, llvm::ArrayRef<int64_t> expectedShape, const WeightInfo *&blocks,
                        const WeightInfo *&scales) const;

  /// Bytes of tensor data in all files (of the mapped model, after mapPrefixes): what reading every tensor
  /// once streams (load progress).
  uint64_t totalBytes() const;

  /// The names, sorted, of the tensors not in `used`: what a model loader reports as unexpected weights.
  std::vector<std::string> unused(const llvm::StringSet<> &used) const;

  /// Reads a language model stored within a larger checkpoint (Gemma 3's multimodal ones), or one whose
  /// names differ from Llama's by prefix (GPT-NeoX): a name that starts with the first of a pair is looked
  /// up with the second in its place (the first pair that matches), and stored tensors under none of the
  /// second prefixes (another tower's) are neither found nor reported as unused.
  void mapPrefixes(std::vector<std::pair<std::string, std::string>> pairs);
  /// The stored name of tensor `name` (itself unless mapPrefixes maps it).
  std::string storedName(llvm::StringRef name) const;

private:
  WeightStore() = default;

  /// Validates the safetensors image `buffer` and adds its tensors; returns an error message or "".
  std::string addFile(std::unique_ptr<llvm::MemoryBuffer> buffer);
  std::string openIndex(const std::string &indexPath);

  std::string path; // what open() was given, for errors that concern no single file
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> files;
  llvm::StringMap<WeightInfo> weights;
  std::vector<std::pair<std::string, std::string>> prefixes; // mapPrefixes
};

} // namespace xf::rt

#endif // XF_RUNTIME_SRC_SAFETENSORS_H
