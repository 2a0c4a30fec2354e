//===- CudaDevice.cpp - the runtime's CUDA device ----------------------------===//
#include "runtime/cuda/CudaDevice.h"

#include "runtime/src/PinTable.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

using namespace xf::rt;

namespace {

/// The few driver API types and constants the device uses, declared here so that libxfrt builds without the
/// CUDA toolkit; the values are those of cuda.h, which the build checks where cuda.h exists.
namespace cu {
using Result = int;
using Device = int;
using DevicePtr = unsigned long long;
using Context = struct CUctx_st *;
using Module = struct CUmod_st *;
using Function = struct CUfunc_st *;
using Stream = struct CUstream_st *;
using Event = struct CUevent_st *;
using JitOption = int;
using DeviceAttribute = int;
constexpr Result kSuccess = 0;
constexpr Result kErrorStubLibrary = 34;
constexpr Result kErrorNoDevice = 100;
constexpr DeviceAttribute kMaxGridDimX = 5;
constexpr DeviceAttribute kComputeCapabilityMajor = 75;
constexpr DeviceAttribute kComputeCapabilityMinor = 76;
constexpr JitOption kJitErrorLogBuffer = 5;
constexpr JitOption kJitErrorLogBufferSizeBytes = 6;
} // namespace cu

// The driver entry points, with the symbol each has in libcuda.so.1 (cuda.h maps the plain names to the
// versioned ones).
#define XF_CU_FUNCTIONS(X)                                                                                             \
  X(cuInit, "cuInit", cu::Result, unsigned)                                                                            \
  X(cuDriverGetVersion, "cuDriverGetVersion", cu::Result, int *)                                                       \
  X(cuGetErrorName, "cuGetErrorName", cu::Result, cu::Result, const char **)                                           \
  X(cuGetErrorString, "cuGetErrorString", cu::Result, cu::Result, const char **)                                       \
  X(cuDeviceGetCount, "cuDeviceGetCount", cu::Result, int *)                                                           \
  X(cuDeviceGet, "cuDeviceGet", cu::Result, cu::Device *, int)                                                         \
  X(cuDeviceGetName, "cuDeviceGetName", cu::Result, char *, int, cu::Device)                                           \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", cu::Result, int *, cu::DeviceAttribute, cu::Device)                  \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", cu::Result, size_t *, cu::Device)                                         \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", cu::Result, cu::Context *, cu::Device)                       \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", cu::Result, cu::Device)                                 \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", cu::Result, cu::Context)                                                       \
  X(cuModuleLoadDataEx, "cuModuleLoadDataEx", cu::Result, cu::Module *, const void *, unsigned, cu::JitOption *,       \
    void **)                                                                                                           \
  X(cuModuleUnload, "cuModuleUnload", cu::Result, cu::Module)                                                          \
  X(cuModuleGetFunction, "cuModuleGetFunction", cu::Result, cu::Function *, cu::Module, const char *)                  \
  X(cuMemAlloc, "cuMemAlloc_v2", cu::Result, cu::DevicePtr *, size_t)                                                  \
  X(cuMemFree, "cuMemFree_v2", cu::Result, cu::DevicePtr)                                                              \
  X(cuMemAllocHost, "cuMemAllocHost_v2", cu::Result, void **, size_t)                                                 \
  X(cuMemFreeHost, "cuMemFreeHost", cu::Result, void *)                                                               \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", cu::Result, cu::DevicePtr, const void *, size_t, cu::Stream)            \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", cu::Result, void *, cu::DevicePtr, size_t, cu::Stream)                  \
  X(cuMemsetD32Async, "cuMemsetD32Async", cu::Result, cu::DevicePtr, unsigned, size_t, cu::Stream)                     \
  X(cuStreamCreate, "cuStreamCreate", cu::Result, cu::Stream *, unsigned)                                              \
  X(cuStreamDestroy, "cuStreamDestroy_v2", cu::Result, cu::Stream)                                                     \
  X(cuStreamSynchronize, "cuStreamSynchronize", cu::Result, cu::Stream)                                                \
  X(cuEventCreate, "cuEventCreate", cu::Result, cu::Event *, unsigned)                                                 \
  X(cuEventDestroy, "cuEventDestroy_v2", cu::Result, cu::Event)                                                        \
  X(cuEventRecord, "cuEventRecord", cu::Result, cu::Event, cu::Stream)                                                 \
  X(cuEventElapsedTime, "cuEventElapsedTime", cu::Result, float *, cu::Event, cu::Event)                              \
  X(cuLaunchKernel, "cuLaunchKernel", cu::Result, cu::Function, unsigned, unsigned, unsigned, unsigned, unsigned,      \
    unsigned, unsigned, cu::Stream, void **, void **)

struct Driver {
  void *library = nullptr;
#define XF_CU_DECLARE(name, symbol, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  XF_CU_FUNCTIONS(XF_CU_DECLARE)
#undef XF_CU_DECLARE
};

/// The cuBLAS entry points the device uses (cublas_api.h: the _v2 names are the current ABI).
namespace blas {
using Handle = struct cublasContext *;
using Status = int;
constexpr Status kSuccess = 0;
constexpr int kOpN = 0;
constexpr int kOpT = 1;
/// cudaDataType (library_types.h), cublasComputeType_t and cublasGemmAlgo_t values.
constexpr int kR32F = 0;
constexpr int kR16BF = 14;
constexpr int kCompute32F = 68;
constexpr int kGemmDefault = -1;
} // namespace blas

#define XF_CUBLAS_FUNCTIONS(X)                                                                                         \
  X(cublasCreate, "cublasCreate_v2", blas::Status, blas::Handle *)                                                    \
  X(cublasDestroy, "cublasDestroy_v2", blas::Status, blas::Handle)                                                    \
  X(cublasSetStream, "cublasSetStream_v2", blas::Status, blas::Handle, cu::Stream)                                    \
  X(cublasSgemm, "cublasSgemm_v2", blas::Status, blas::Handle, int, int, int, int, int, const float *, const float *, \
    int, const float *, int, const float *, float *, int)                                                              \
  X(cublasGemmEx, "cublasGemmEx", blas::Status, blas::Handle, int, int, int, int, int, const void *, const void *, int,  \
    int, const void *, int, int, const void *, void *, int, int, int, int)

struct Blas {
  void *library = nullptr;
#define XF_CUBLAS_DECLARE(name, symbol, result, ...) result (*name)(__VA_ARGS__) = nullptr;
  XF_CUBLAS_FUNCTIONS(XF_CUBLAS_DECLARE)
#undef XF_CUBLAS_DECLARE
};

/// cuBLAS, opened once per process; nullptr where it is missing (the kernels then run the products).
const Blas *openBlas() {
  static Blas loaded;
  static bool ok = [] {
    for (const char *name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"})
      if ((loaded.library = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!loaded.library)
      return false;
#define XF_CUBLAS_LOAD(name, symbol, result, ...)                                                                      \
  loaded.name = reinterpret_cast<decltype(loaded.name)>(dlsym(loaded.library, symbol));                               \
  if (!loaded.name)                                                                                                    \
    return false;
    XF_CUBLAS_FUNCTIONS(XF_CUBLAS_LOAD)
#undef XF_CUBLAS_LOAD
    return true;
  }();
  return ok ? &loaded : nullptr;
}

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The driver's message for `status`, with the causes a user can act on spelled out; the toolkit's stub
/// libcuda has no messages at all.
std::string describeStatus(const Driver &d, cu::Result status) {
  if (status == cu::kErrorStubLibrary)
    return "libcuda.so.1 is the CUDA toolkit's stub library, not a driver";
  const char *text = nullptr, *name = nullptr;
  if (d.cuGetErrorString(status, &text) != cu::kSuccess || !text)
    return "CUDA error " + std::to_string(status);
  if (d.cuGetErrorName(status, &name) != cu::kSuccess || !name)
    return text;
  return std::string(text) + " (" + name + ")";
}

/// The driver, opened and initialized once per process; an error says what is missing.
llvm::Expected<const Driver *> driver() {
  static Driver loaded;
  static std::string problem;
  static std::once_flag once;
  std::call_once(once, [] {
    dlerror();
    loaded.library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!loaded.library) {
      const char *reason = dlerror();
      problem = std::string("the CUDA driver is not installed (cannot load libcuda.so.1: ") +
                (reason ? reason : "dlopen failed") + ")";
      return;
    }
#define XF_CU_LOAD(name, symbol, result, ...)                                                                          \
  loaded.name = reinterpret_cast<decltype(loaded.name)>(dlsym(loaded.library, symbol));                               \
  if (!loaded.name) {                                                                                                  \
    problem = "the CUDA driver (libcuda.so.1) has no " symbol "; it is too old";                                      \
    return;                                                                                                            \
  }
    XF_CU_FUNCTIONS(XF_CU_LOAD)
#undef XF_CU_LOAD
    cu::Result status = loaded.cuInit(0);
    if (status == cu::kErrorNoDevice)
      problem = "the CUDA driver finds no GPU (cuInit: no CUDA-capable device is detected)";
    else if (status != cu::kSuccess)
      problem = "the CUDA driver failed to initialize (cuInit: " + describeStatus(loaded, status) + ")";
  });
  if (!problem.empty())
    return error(problem);
  return &loaded;
}

/// "cuFoo(...): the driver's message (CUDA_ERROR_NAME)".
llvm::Error check(const Driver &d, cu::Result status, const char *call) {
  if (status == cu::kSuccess)
    return llvm::Error::success();
  return error(llvm::StringRef(call).take_until([](char c) { return c == '('; }) + ": " + describeStatus(d, status));
}

#define XF_CU_CHECK(d, call) check(d, d.call, #call)

struct DeviceFacts {
  cu::Device device = 0;
  std::string name;
  int computeCapability = 0;
  size_t memory = 0;
};

llvm::Expected<DeviceFacts> describe(const Driver &d, int index) {
  DeviceFacts facts;
  char name[256] = {};
  int major = 0, minor = 0;
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceGet(&facts.device, index)))
    return std::move(err);
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceGetName(name, sizeof(name) - 1, facts.device)))
    return std::move(err);
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceGetAttribute(&major, cu::kComputeCapabilityMajor, facts.device)))
    return std::move(err);
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceGetAttribute(&minor, cu::kComputeCapabilityMinor, facts.device)))
    return std::move(err);
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceTotalMem(&facts.memory, facts.device)))
    return std::move(err);
  facts.name = name;
  facts.computeCapability = major * 10 + minor;
  return facts;
}

} // namespace

struct CudaDevice::Impl {
  const Driver *d = nullptr;
  cu::Device device = 0;
  cu::Context context = nullptr;
  cu::Stream stream = nullptr;
  std::string name;
  int computeCapability = 0;
  uint32_t maxBlocks = 0;
  std::mutex mutex; // one launch at a time; the module cache and the buffers
  struct Loaded {
    cu::Module module = nullptr;
    cu::Function function = nullptr;
    // What was loaded: a module closed and another opened at the same address must not hit this entry.
    std::string ptx, entryPoint;
  };
  llvm::DenseMap<const char *, Loaded> kernels;
  /// Device memory per operand slot, kept across launches (cuMemAlloc and cuMemFree are slow, and cuMemFree
  /// waits for the device) and grown on demand.
  struct Buffer {
    cu::DevicePtr pointer = 0;
    size_t capacity = 0;
  };
  std::vector<Buffer> buffers;
  /// Pinned host arrays' device copies.
  PinTable<cu::DevicePtr> pinned;
  /// Page-locked host memory that updates copy through: a copy from it is queued without waiting (one
  /// from pageable memory would wait for the device first). Bump-allocated, and reused only after the
  /// stream synchronized, when the copies that read it have run.
  uint8_t *staging = nullptr;
  size_t stagingCapacity = 0, stagingUsed = 0;
  /// Events around each launch or product: the kernel's own time.
  cu::Event started = nullptr, finished = nullptr;
  double lastKernelSeconds = -1;
  /// cuBLAS on this device's stream: looked for on the first hasBlas().
  const Blas *blas = nullptr;
  blas::Handle blasHandle = nullptr;
  bool blasTried = false;

  ~Impl() {
    if (!context)
      return;
    d->cuCtxSetCurrent(context);
    if (blasHandle)
      blas->cublasDestroy(blasHandle);
    for (cu::Event event : {started, finished})
      if (event)
        d->cuEventDestroy(event);
    pinned.clear([&](cu::DevicePtr &pointer) { d->cuMemFree(pointer); });
    if (staging)
      d->cuMemFreeHost(staging);
    for (auto &entry : kernels)
      d->cuModuleUnload(entry.second.module);
    for (Buffer &buffer : buffers)
      if (buffer.pointer)
        d->cuMemFree(buffer.pointer);
    if (stream)
      d->cuStreamDestroy(stream);
    d->cuDevicePrimaryCtxRelease(device);
  }

  llvm::Expected<cu::Function> function(const CudaKernel &kernel) {
    auto found = kernels.find(kernel.ptx);
    if (found != kernels.end()) {
      if (found->second.ptx == kernel.ptx && found->second.entryPoint == kernel.entryPoint)
        return found->second.function;
      d->cuModuleUnload(found->second.module);
      kernels.erase(found);
    }
    // The driver compiles the PTX for this device; its log says why when that fails.
    char log[4096] = {};
    cu::JitOption options[] = {cu::kJitErrorLogBuffer, cu::kJitErrorLogBufferSizeBytes};
    void *values[] = {log, reinterpret_cast<void *>(sizeof(log) - 1)};
    Loaded loaded;
    if (llvm::Error err = XF_CU_CHECK((*d), cuModuleLoadDataEx(&loaded.module, kernel.ptx, 2, options, values)))
      return error(llvm::toString(std::move(err)) + (log[0] ? std::string(": ") + log : std::string()));
    if (llvm::Error err = XF_CU_CHECK((*d), cuModuleGetFunction(&loaded.function, loaded.module,
                                                                 kernel.entryPoint.c_str()))) {
      d->cuModuleUnload(loaded.module);
      return std::move(err);
    }
    loaded.ptx = kernel.ptx;
    loaded.entryPoint = kernel.entryPoint;
    cu::Function function = loaded.function;
    kernels[kernel.ptx] = std::move(loaded);
    return function;
  }

  /// `bytes` of staging for a queued copy. When they do not fit, waits for the stream (the queued copies
  /// have read theirs) and starts over, in a buffer grown to fit.
  llvm::Expected<uint8_t *> stagingFor(size_t bytes) {
    size_t at = (stagingUsed + 15) / 16 * 16;
    if (at + bytes > stagingCapacity) {
      if (llvm::Error err = XF_CU_CHECK((*d), cuStreamSynchronize(stream)))
        return std::move(err);
      at = 0;
      if (bytes > stagingCapacity) {
        size_t grown = std::max({bytes, 2 * stagingCapacity, size_t(1) << 20});
        if (staging)
          d->cuMemFreeHost(std::exchange(staging, nullptr));
        stagingCapacity = 0;
        void *host = nullptr;
        if (llvm::Error err = XF_CU_CHECK((*d), cuMemAllocHost(&host, grown)))
          return std::move(err);
        staging = static_cast<uint8_t *>(host);
        stagingCapacity = grown;
      }
    }
    stagingUsed = at + bytes;
    return staging + at;
  }

  /// Records the start of the device work whose time lastKernelSeconds reports.
  llvm::Error startTiming() {
    lastKernelSeconds = -1;
    return XF_CU_CHECK((*d), cuEventRecord(started, stream));
  }
  /// After the stream synchronized: the time between the two events.
  void finishTiming() {
    float ms = 0;
    if (d->cuEventElapsedTime(&ms, started, finished) == cu::kSuccess)
      lastKernelSeconds = ms * 1e-3;
  }

  /// Ends a launch or product. Work whose results stay on the device (resident outputs) stays queued on the
  /// stream, ordered before whatever follows, and the host goes on: a model step then waits only where it
  /// reads something back. A kernel's own errors (a bad address, a trap) surface at the next
  /// synchronization; CUDA_LAUNCH_BLOCKING=1 makes every launch report its own.
  llvm::Error finish(bool returns) {
    if (!returns)
      return llvm::Error::success();
    if (llvm::Error err = XF_CU_CHECK((*d), cuStreamSynchronize(stream)))
      return err;
    finishTiming();
    return llvm::Error::success();
  }

  /// Whether `binding` is bound to its pinned copy: inputs always, outputs when resident (the copy is
  /// their truth, written in place and not downloaded).
  const cu::DevicePtr *inPlace(const CudaBinding &binding) {
    PinTable<cu::DevicePtr>::Found pin = binding.data ? pinned.find(binding.data, binding.bytes)
                                                      : PinTable<cu::DevicePtr>::Found{};
    return pin.copy && (!binding.download || pin.resident) ? pin.copy : nullptr;
  }

  /// The device address `binding` is read from: its pinned copy (inPlace), else slot `index`, uploaded
  /// unless `upload` is false (an output the kernel writes whole); scratch (no host data) gets its
  /// leading `zeroBytes` zeroed.
  llvm::Expected<cu::DevicePtr> bind(size_t index, const CudaBinding &binding, bool upload) {
    if (const cu::DevicePtr *resident = inPlace(binding))
      return *resident;
    if (pinned.insideResident(binding.data))
      return error(llvm::formatv("operand {0} points inside an array kept on the device, whose host copy is stale; "
                                 "bind it from the array's start",
                                 index));
    llvm::Expected<cu::DevicePtr> allocated = buffer(index, binding.bytes);
    if (!allocated)
      return allocated.takeError();
    if (!binding.data) {
      if (binding.zeroBytes)
        if (llvm::Error err = XF_CU_CHECK((*d), cuMemsetD32Async(*allocated, 0, binding.zeroBytes / 4, stream)))
          return std::move(err);
      return *allocated;
    }
    if (upload && binding.bytes)
      if (llvm::Error err = XF_CU_CHECK((*d), cuMemcpyHtoDAsync(*allocated, binding.data, binding.bytes, stream)))
        return std::move(err);
    return *allocated;
  }

  /// Slot `index` with room for `bytes` (at least 4: cuMemAlloc refuses 0, and an empty tensor still gets
  /// an address the kernel never reads).
  llvm::Expected<cu::DevicePtr> buffer(size_t index, size_t bytes) {
    if (buffers.size() <= index)
      buffers.resize(index + 1);
    Buffer &slot = buffers[index];
    if (slot.capacity >= bytes && slot.pointer)
      return slot.pointer;
    if (slot.pointer)
      d->cuMemFree(slot.pointer);
    slot = {};
    size_t capacity = std::max<size_t>(bytes, 4);
    if (llvm::Error err = XF_CU_CHECK((*d), cuMemAlloc(&slot.pointer, capacity)))
      return std::move(err);
    slot.capacity = capacity;
    return slot.pointer;
  }
};

CudaDevice::CudaDevice(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
CudaDevice::~CudaDevice() = default;

const std::string &CudaDevice::name() const { return impl->name; }
int CudaDevice::computeCapability() const { return impl->computeCapability; }
uint32_t CudaDevice::maxBlocks() const { return impl->maxBlocks; }

llvm::Expected<std::vector<std::string>> CudaDevice::describeDevices() {
  llvm::Expected<const Driver *> d = driver();
  if (!d)
    return d.takeError();
  int count = 0;
  if (llvm::Error err = XF_CU_CHECK((**d), cuDeviceGetCount(&count)))
    return std::move(err);
  std::vector<std::string> lines;
  for (int i = 0; i < count; ++i) {
    llvm::Expected<DeviceFacts> facts = describe(**d, i);
    if (!facts)
      return facts.takeError();
    lines.push_back(llvm::formatv("cuda:{0}: {1} (compute capability {2}.{3}, {4} MiB)", i, facts->name,
                                  facts->computeCapability / 10, facts->computeCapability % 10,
                                  facts->memory >> 20));
  }
  return lines;
}

llvm::Expected<std::unique_ptr<CudaDevice>> CudaDevice::open(int index) {
  llvm::Expected<const Driver *> loaded = driver();
  if (!loaded)
    return loaded.takeError();
  const Driver &d = **loaded;
  int count = 0;
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceGetCount(&count)))
    return std::move(err);
  if (count == 0)
    return error("the CUDA driver finds no GPU");
  if (index < 0)
    index = 0;
  if (index >= count)
    return error(llvm::formatv("no CUDA device cuda:{0} (this machine has {1}: cuda:0 to cuda:{2})", index, count,
                               count - 1));
  llvm::Expected<DeviceFacts> facts = describe(d, index);
  if (!facts)
    return facts.takeError();
  auto impl = std::make_unique<Impl>();
  impl->d = &d;
  impl->device = facts->device;
  impl->name = llvm::formatv("cuda:{0} ({1})", index, facts->name);
  impl->computeCapability = facts->computeCapability;
  if (facts->computeCapability < kMinCudaComputeCapability)
    return error(llvm::formatv("{0} has compute capability {1}.{2}; xf's CUDA kernels need 8.0 (sm_80) or newer",
                               impl->name, facts->computeCapability / 10, facts->computeCapability % 10));
  int maxGrid = 0;
  if (llvm::Error err = XF_CU_CHECK(d, cuDeviceGetAttribute(&maxGrid, cu::kMaxGridDimX, impl->device)))
    return std::move(err);
  impl->maxBlocks = static_cast<uint32_t>(maxGrid);
  if (llvm::Error err = XF_CU_CHECK(d, cuDevicePrimaryCtxRetain(&impl->context, impl->device)))
    return std::move(err);
  if (llvm::Error err = XF_CU_CHECK(d, cuCtxSetCurrent(impl->context)))
    return std::move(err);
  if (llvm::Error err = XF_CU_CHECK(d, cuStreamCreate(&impl->stream, /*CU_STREAM_NON_BLOCKING=*/1)))
    return std::move(err);
  for (cu::Event *event : {&impl->started, &impl->finished})
    if (llvm::Error err = XF_CU_CHECK(d, cuEventCreate(event, /*CU_EVENT_DEFAULT=*/0)))
      return std::move(err);
  return std::unique_ptr<CudaDevice>(new CudaDevice(std::move(impl)));
}

llvm::Error CudaDevice::pin(const void *data, size_t bytes, bool resident) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  const Driver &d = *impl->d;
  return impl->pinned.pin(
      data, bytes, resident,
      [&](cu::DevicePtr &pointer) -> llvm::Error {
        if (llvm::Error err = XF_CU_CHECK(d, cuCtxSetCurrent(impl->context)))
          return err;
        if (llvm::Error err = XF_CU_CHECK(d, cuMemAlloc(&pointer, std::max<size_t>(bytes, 4))))
          return err;
        // The copy is queued without waiting: the caller keeps the array as it is until the last unpin,
        // and a resident copy needs none.
        if (bytes && !resident)
          return XF_CU_CHECK(d, cuMemcpyHtoDAsync(pointer, data, bytes, impl->stream));
        return llvm::Error::success();
      },
      [&](cu::DevicePtr &pointer) {
        if (pointer)
          d.cuMemFree(pointer);
      });
}

void CudaDevice::unpin(const void *data) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  impl->pinned.unpin(data, [&](cu::DevicePtr &pointer) {
    impl->d->cuCtxSetCurrent(impl->context);
    impl->d->cuMemFree(pointer);
  });
}

/// Queues a copy of bytes [offset, offset + bytes) of a pinned array between the host and its device copy
/// (`up`: to the device, through staging, so the host bytes may change at once) on the stream; a download's
/// caller synchronizes before it uses the host bytes.
static llvm::Error copyPinned(CudaDevice::Impl &impl, const Driver &d, void *data, size_t offset, size_t bytes,
                              bool up) {
  const char *what = up ? "update" : "download";
  PinTable<cu::DevicePtr>::Found pin = impl.pinned.find(data, 0);
  if (!pin.copy)
    return error(llvm::formatv("{0} of an array that is not pinned", what));
  if (offset > pin.bytes || bytes > pin.bytes - offset)
    return error(llvm::formatv("{0} of bytes [{1}, {2}) of a pinned array of {3}", what, offset, offset + bytes,
                               pin.bytes));
  if (!bytes)
    return llvm::Error::success();
  if (llvm::Error err = XF_CU_CHECK(d, cuCtxSetCurrent(impl.context)))
    return err;
  uint8_t *host = static_cast<uint8_t *>(data) + offset;
  if (!up)
    return XF_CU_CHECK(d, cuMemcpyDtoHAsync(host, *pin.copy + offset, bytes, impl.stream));
  llvm::Expected<uint8_t *> staged = impl.stagingFor(bytes);
  if (!staged)
    return staged.takeError();
  std::memcpy(*staged, host, bytes);
  return XF_CU_CHECK(d, cuMemcpyHtoDAsync(*pin.copy + offset, *staged, bytes, impl.stream));
}

llvm::Error CudaDevice::update(const void *data, size_t offset, size_t bytes) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return copyPinned(*impl, *impl->d, const_cast<void *>(data), offset, bytes, /*up=*/true);
}

llvm::Error CudaDevice::download(llvm::ArrayRef<HostRange> ranges) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  const Driver &d = *impl->d;
  for (const HostRange &range : ranges)
    if (llvm::Error err = copyPinned(*impl, d, range.data, range.offset, range.bytes, /*up=*/false))
      return err;
  if (llvm::Error err = XF_CU_CHECK(d, cuStreamSynchronize(impl->stream)))
    return err;
  impl->stagingUsed = 0; // every queued update has run
  return llvm::Error::success();
}

llvm::Error CudaDevice::launch(const CudaKernel &kernel, llvm::ArrayRef<CudaBinding> bindings,
                               llvm::ArrayRef<int32_t> shapes, uint32_t blocks) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  const Driver &d = *impl->d;
  // The context is current per thread; callers may come from any thread.
  if (llvm::Error err = XF_CU_CHECK(d, cuCtxSetCurrent(impl->context)))
    return err;
  llvm::Expected<cu::Function> function = impl->function(kernel);
  if (!function)
    return function.takeError();

  // Per buffer: allocated, aligned, offset, size, stride; then the shapes. The parameter array points at
  // each value.
  struct Descriptor {
    cu::DevicePtr allocated, aligned;
    int32_t offset, size, stride;
  };
  std::vector<Descriptor> descriptors(bindings.size());
  std::vector<void *> params;
  for (auto [i, binding] : llvm::enumerate(bindings)) {
    // The output is uploaded too: a kernel may leave parts of it as they were (MoH skips inactive heads), as
    // on the CPU.
    llvm::Expected<cu::DevicePtr> bound = impl->bind(i, binding, /*upload=*/true);
    if (!bound)
      return bound.takeError();
    cu::DevicePtr pointer = *bound;
    Descriptor &descriptor = descriptors[i];
    descriptor = {pointer, pointer, 0, static_cast<int32_t>(binding.bytes / sizeof(float)), 1};
    for (void *field : {static_cast<void *>(&descriptor.allocated), static_cast<void *>(&descriptor.aligned),
                        static_cast<void *>(&descriptor.offset), static_cast<void *>(&descriptor.size),
                        static_cast<void *>(&descriptor.stride)})
      params.push_back(field);
  }
  std::vector<int32_t> shapeValues(shapes.begin(), shapes.end());
  for (int32_t &shape : shapeValues)
    params.push_back(&shape);

  if (llvm::Error err = impl->startTiming())
    return err;
  if (blocks > 0)
    if (llvm::Error err = XF_CU_CHECK(d, cuLaunchKernel(*function, blocks, 1, 1, kernel.blockSize, 1, 1,
                                                        /*sharedMemBytes=*/0, impl->stream, params.data(), nullptr)))
      return err;
  if (llvm::Error err = XF_CU_CHECK(d, cuEventRecord(impl->finished, impl->stream)))
    return err;
  bool returns = false;
  for (auto [i, binding] : llvm::enumerate(bindings))
    if (binding.download && binding.bytes && !impl->inPlace(binding)) {
      if (llvm::Error err =
              XF_CU_CHECK(d, cuMemcpyDtoHAsync(binding.data, impl->buffers[i].pointer, binding.bytes, impl->stream)))
        return err;
      returns = true;
    }
  return impl->finish(returns);
}

double CudaDevice::lastKernelSeconds() const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->lastKernelSeconds;
}

bool CudaDevice::hasBlas() {
  std::lock_guard<std::mutex> lock(impl->mutex);
  if (impl->blasTried)
    return impl->blasHandle != nullptr;
  impl->blasTried = true;
  if (const char *setting = std::getenv("XF_CUDA_BLAS"); setting && llvm::StringRef(setting) == "0")
    return false;
  const Blas *blas = openBlas();
  if (!blas || impl->d->cuCtxSetCurrent(impl->context) != cu::kSuccess)
    return false;
  blas::Handle handle = nullptr;
  if (blas->cublasCreate(&handle) != blas::kSuccess)
    return false;
  if (blas->cublasSetStream(handle, impl->stream) != blas::kSuccess) {
    blas->cublasDestroy(handle);
    return false;
  }
  impl->blas = blas;
  impl->blasHandle = handle;
  return true;
}

llvm::Error CudaDevice::matmul(const CudaBinding &x, const CudaBinding &w, const CudaBinding &y, int32_t m,
                               int32_t n, int32_t k, Operands operands, bool accumulate) {
  std::lock_guard<std::mutex> lock(impl->mutex);
  const Driver &d = *impl->d;
  if (!impl->blasHandle)
    return error("cuBLAS is not available");
  if (llvm::Error err = XF_CU_CHECK(d, cuCtxSetCurrent(impl->context)))
    return err;
  llvm::Expected<cu::DevicePtr> xd = impl->bind(0, x, /*upload=*/true);
  if (!xd)
    return xd.takeError();
  llvm::Expected<cu::DevicePtr> wd = impl->bind(1, w, /*upload=*/true);
  if (!wd)
    return wd.takeError();
  llvm::Expected<cu::DevicePtr> yd = impl->bind(2, y, /*upload=*/accumulate);
  if (!yd)
    return yd.takeError();
  // cuBLAS is column-major: the row-major y [m, n] is the column-major n x m matrix y^T = w x^T, where the
  // row-major w [n, k] read column-major is k x n (w^T, so op T, ld k) and x [m, k] is k x m (x^T, op N).
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  if (llvm::Error err = impl->startTiming())
    return err;
  if (m > 0 && n > 0 && operands == Operands::F32) {
    blas::Status status = impl->blas->cublasSgemm(
        impl->blasHandle, blas::kOpT, blas::kOpN, n, m, k, &alpha, reinterpret_cast<const float *>(*wd), std::max(k, 1),
        reinterpret_cast<const float *>(*xd), std::max(k, 1), &beta, reinterpret_cast<float *>(*yd), n);
    if (status != blas::kSuccess)
      return error(llvm::formatv("cublasSgemm: cuBLAS status {0}", status));
  } else if (m > 0 && n > 0) {
    // The pairs are row-major bf16 arrays [m, k] and [n, k] (a word's low half first): the same mapping, in
    // bf16 with float32 sums (tensor cores).
    blas::Status status = impl->blas->cublasGemmEx(
        impl->blasHandle, blas::kOpT, blas::kOpN, n, m, k, &alpha, reinterpret_cast<const void *>(*wd), blas::kR16BF,
        std::max(k, 1), reinterpret_cast<const void *>(*xd), blas::kR16BF, std::max(k, 1), &beta,
        reinterpret_cast<void *>(*yd), blas::kR32F, n, blas::kCompute32F, blas::kGemmDefault);
    if (status != blas::kSuccess)
      return error(llvm::formatv("cublasGemmEx (bf16): cuBLAS status {0}", status));
  }
  if (llvm::Error err = XF_CU_CHECK(d, cuEventRecord(impl->finished, impl->stream)))
    return err;
  bool returns = y.bytes && !impl->inPlace(y);
  if (returns)
    if (llvm::Error err = XF_CU_CHECK(d, cuMemcpyDtoHAsync(y.data, *yd, y.bytes, impl->stream)))
      return err;
  return impl->finish(returns);
}

#if __has_include(<cuda.h>)
#include <cuda.h>
static_assert(CUDA_SUCCESS == cu::kSuccess && CUDA_ERROR_NO_DEVICE == cu::kErrorNoDevice &&
              CUDA_ERROR_STUB_LIBRARY == cu::kErrorStubLibrary);
static_assert(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X == cu::kMaxGridDimX &&
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR == cu::kComputeCapabilityMajor &&
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR == cu::kComputeCapabilityMinor);
static_assert(CU_JIT_ERROR_LOG_BUFFER == cu::kJitErrorLogBuffer &&
              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES == cu::kJitErrorLogBufferSizeBytes);
static_assert(CU_STREAM_NON_BLOCKING == 1 && sizeof(CUdeviceptr) == sizeof(cu::DevicePtr));
#endif
#if __has_include(<cublas_api.h>)
#include <cublas_api.h>
static_assert(CUBLAS_STATUS_SUCCESS == blas::kSuccess && CUBLAS_OP_N == blas::kOpN && CUBLAS_OP_T == blas::kOpT);
static_assert(CUDA_R_32F == blas::kR32F && CUDA_R_16BF == blas::kR16BF && CUBLAS_COMPUTE_32F == blas::kCompute32F &&
              CUBLAS_GEMM_DEFAULT == blas::kGemmDefault);
static_assert(sizeof(cublasOperation_t) == sizeof(int) && sizeof(cudaDataType) == sizeof(int) &&
              sizeof(cublasComputeType_t) == sizeof(int) && sizeof(cublasGemmAlgo_t) == sizeof(int));
#endif
