//===- Npy.h - reading and writing float32 .npy files -----------------------===//
//
// The exchange format for kernel inputs and outputs (xf-run, tests, benchmarks, and NumPy on the other
// side). Only what xf kernels consume is supported: little-endian float32 ('<f4') in C order, rank <= 8.
// Headers of versions 1.0, 2.0 and 3.0 are read (they differ only in the header-length field and, for 3.0,
// the header's text encoding); files are written as version 1.0. Nothing here throws: failures come back
// as one-line messages that name the file.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_SRC_NPY_H
#define XF_RUNTIME_SRC_NPY_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xf::npy {

/// The largest rank accepted, matching XFRT_MAX_RANK.
inline constexpr size_t kMaxRank = 8;

/// A dense row-major float32 array.
struct Array {
  std::vector<int64_t> shape;
  std::vector<float> data;

  int64_t numElements() const {
    int64_t count = 1;
    for (int64_t size : shape)
      count *= size;
    return count;
  }
};

/// An Array, or the reason it could not be read.
struct ReadResult {
  Array array;
  std::string error; // empty on success

  explicit operator bool() const { return error.empty(); }
};

/// Reads the .npy file at `path`.
ReadResult read(const std::string &path);

/// Parses a .npy image held in memory; `name` stands for the file in error messages.
ReadResult parse(const void *bytes, size_t size, const std::string &name);

/// Writes `data` (numElements of `shape` floats) as a version 1.0 .npy file. Returns an error message that
/// names the file, or an empty string on success.
std::string write(const std::string &path, const float *data, const std::vector<int64_t> &shape);
inline std::string write(const std::string &path, const Array &array) {
  return write(path, array.data.data(), array.shape);
}

} // namespace xf::npy

#endif // XF_RUNTIME_SRC_NPY_H
