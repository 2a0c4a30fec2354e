//===- CudaDevice.h - the runtime's CUDA device ------------------------------===//
//
// The CUDA driver is opened at run time (dlopen of libcuda.so.1), so libxfrt links no CUDA library, builds
// without the toolkit, and a machine without the driver or a GPU gets a clear error only when it asks for a
// CUDA device. A device runs one launch at a time on its own stream, in the device's primary context:
// operands (the output included) are copied to device memory, the kernel (its PTX module loaded once and
// cached) is launched with the buffers and the shapes, and the output is copied back before the call
// returns. Dense matrix products can go through cuBLAS instead (also opened at run time: libcublas.so.13,
// .12 or .11), on the same stream and buffers.
//
//===----------------------------------------------------------------------===//
#ifndef XF_RUNTIME_CUDA_CUDADEVICE_H
#define XF_RUNTIME_CUDA_CUDADEVICE_H

#include "runtime/src/PinTable.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xf::rt {

/// The oldest compute capability (major * 10 + minor) the compiled kernels target: sm_80.
inline constexpr int kMinCudaComputeCapability = 80;

/// One compiled kernel: PTX text and how to launch it.
struct CudaKernel {
  const char *ptx = nullptr; // NUL-terminated; identifies the kernel in the module cache
  std::string entryPoint;
  uint32_t blockSize = 0; // threads per block, one work item each
};

/// A host array bound to one kernel buffer.
struct CudaBinding {
  void *data = nullptr; // nullptr: device scratch
  size_t bytes = 0;
  bool download = false; // copy the buffer back into `data` after the kernel ran
  size_t zeroBytes = 0;  // scratch: how many leading bytes are zeroed before the launch
};

class CudaDevice {
public:
  /// Opens device `index` (-1: device 0). Fails, naming what is missing, without a driver, without a
  /// device, or for a device older than compute capability 8.0.
  static llvm::Expected<std::unique_ptr<CudaDevice>> open(int index);
  /// One line per device: "cuda:N: NAME (compute capability X.Y, M MiB)".
  static llvm::Expected<std::vector<std::string>> describeDevices();
  ~CudaDevice();

  /// "cuda:N (NAME)".
  const std::string &name() const;
  /// major * 10 + minor, e.g. 90 for an H100.
  int computeCapability() const;
  uint32_t maxBlocks() const;
  /// The last launch's or product's own time, between two events on the stream around it; -1 before any, and
  /// after one that did not wait for the device.
  double lastKernelSeconds() const;

  /// Keeps a device copy of the host array [data, data + bytes) that launches bind instead of copying it
  /// (model weights): the caller promises not to change or free the array before the last unpin. Pins
  /// are counted; the copy goes when the count returns to zero. A `resident` copy (a model's activations)
  /// starts uninitialized, and kernels whose output it is write it in place: the host array is stale
  /// until `download`.
  llvm::Error pin(const void *data, size_t bytes, bool resident = false);
  void unpin(const void *data);
  /// Copies bytes [offset, offset + bytes) of the pinned host array `data` into its device copy again:
  /// the caller changed them (a KV cache's new rows). An error if `data` is not pinned or the range
  /// passes its end. The bytes are taken at once (into page-locked staging) and the copy is queued on
  /// the stream, after the launches before it, without waiting.
  llvm::Error update(const void *data, size_t offset, size_t bytes);
  /// Copies byte ranges of pinned arrays' device copies into the host arrays, after every launch queued
  /// before, and waits once for all of them.
  llvm::Error download(llvm::ArrayRef<HostRange> ranges);

  /// Runs `blocks` blocks of `kernel`, and waits for them when an output comes back to the host (one not
  /// resident on the device: see pin); otherwise the launch stays queued on the device's stream, which
  /// orders it before every later launch, copy and read-back. Kernel parameters are, per binding, MLIR's
  /// memref descriptor at 32-bit index width (allocated, aligned, offset 0, size in elements, stride 1;
  /// see xf-cuda-serialize), then the i32 `shapes`. The loaded module is cached per PTX image.
  llvm::Error launch(const CudaKernel &kernel, llvm::ArrayRef<CudaBinding> bindings, llvm::ArrayRef<int32_t> shapes,
                     uint32_t blocks);

  /// Whether cuBLAS could be opened (tried once per device; XF_CUDA_BLAS=0 in the environment turns it off).
  bool hasBlas();
  /// What a product's x and w hold: float32, or bf16 (k even: a row's k values in k / 2 words).
  enum class Operands { F32, BF16 };
  /// y[m, n] = x[m, k] w[n, k]^T, row-major (w in nn.Linear's layout), y float32 and written whole, or with
  /// `accumulate` y += x w^T: with cublasSgemm, or for bf16 operands cublasGemmEx summing in float32.
  /// Requires hasBlas().
  llvm::Error matmul(const CudaBinding &x, const CudaBinding &w, const CudaBinding &y, int32_t m, int32_t n,
                     int32_t k, Operands operands = Operands::F32, bool accumulate = false);

  struct Impl;

private:
  explicit CudaDevice(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace xf::rt

#endif // XF_RUNTIME_CUDA_CUDADEVICE_H
