//===- KernelHarness.h - compile specs with xfc and run them through xfrt ---===//
//
// Shared by the numerics tests: a scratch directory per test process, xfc invocation with its stderr shown
// on failure, and RAII wrappers around the runtime's C handles.
//
//===----------------------------------------------------------------------===//
#ifndef XF_TEST_UNIT_KERNELHARNESS_H
#define XF_TEST_UNIT_KERNELHARNESS_H

#include "xfrt.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string>
#include <vector>

namespace xf::test {

namespace fs = std::filesystem;


//===----------------------------------------------------------------------===//
// Compiling and running
//===----------------------------------------------------------------------===//

/// One directory per test process for specs, libraries and xfc's stderr; removed when the process ends.
class ScratchDirectory : public testing::Environment {
public:
  static const fs::path &path() { return instance->directory; }

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "xf-numerics-XXXXXX").string();
    if (!mkdtemp(pattern.data()))
      FAIL() << "mkdtemp(" << pattern << ") failed";
    directory = pattern;
    instance = this;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory, ignored);
  }

private:
  static inline ScratchDirectory *instance = nullptr;
  fs::path directory;
};
inline testing::Environment *const scratchEnvironment =
    testing::AddGlobalTestEnvironment(new ScratchDirectory);

inline std::string readFile(const fs::path &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using xfrt::ContextPtr;
using xfrt::messageOf;
using xfrt::ModulePtr;
using xfrt::tensorOf;

/// Writes `source` to <scratch>/<name>.<extension>, compiles it with xfc and returns the library's path.
/// Fails the test (showing xfc's stderr) when xfc does not exit with 0.
inline testing::AssertionResult compile(const std::string &name, const std::string &extension,
                                        const std::string &source, fs::path &library,
                                        const std::string &extraArgs = "") {
  fs::path spec = ScratchDirectory::path() / (name + "." + extension);
  library = ScratchDirectory::path() / (name + ".so");
  fs::path errors = ScratchDirectory::path() / (name + ".stderr");
  std::ofstream(spec) << source;
  // The paths are mkdtemp's plus test names ([A-Za-z0-9_]), so single quotes are enough for the shell.
  std::string command = "'" XF_XFC_PATH "' '" + spec.string() + "' -o '" + library.string() + "' " + extraArgs + " 2> '" +
                        errors.string() + "'";
  int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return testing::AssertionFailure() << "xfc failed (status " << status << ") on\n"
                                       << source << "\nstderr:\n"
                                       << readFile(errors);
  return testing::AssertionSuccess();
}

inline ModulePtr openModule(const fs::path &library) {
  xfrt_module *module = nullptr;
  std::string message = messageOf(xfrt_module_open(library.c_str(), &module));
  EXPECT_EQ(message, "") << "opening " << library;
  return ModulePtr(module);
}

inline ContextPtr makeContext(int32_t numThreads) {
  xfrt_context *context = nullptr;
  EXPECT_EQ(messageOf(xfrt_context_create(numThreads, &context)), "");
  return ContextPtr(context);
}

/// A context on the Vulkan device the runtime picks, with the validation layer on when it is installed (any
/// message it reports fails the run). Null, after GTEST_SKIP, when the machine has no Vulkan device, unless
/// XF_REQUIRE_VULKAN is set (as CI sets it): then a missing device is a failure, not a skip.
inline ContextPtr makeVulkanContext(std::string &skipReason) {
  if (!std::getenv("XF_VULKAN_VALIDATION") &&
      fs::exists("/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json"))
    setenv("XF_VULKAN_VALIDATION", "1", 1);
  xfrt_context *context = nullptr;
  std::string message = messageOf(xfrt_context_create_on("vulkan", 2, &context));
  if (!message.empty()) {
    EXPECT_EQ(std::getenv("XF_REQUIRE_VULKAN"), nullptr) << "XF_REQUIRE_VULKAN is set but: " << message;
    skipReason = message;
  }
  return ContextPtr(context);
}

/// A context on CUDA device 0. Null, after which the caller skips with `skipReason`, when the machine has no
/// CUDA driver or device, unless XF_REQUIRE_CUDA is set (as a GPU CI sets it): then it is a failure.
inline ContextPtr makeCudaContext(std::string &skipReason) {
  xfrt_context *context = nullptr;
  std::string message = messageOf(xfrt_context_create_on("cuda", 2, &context));
  if (!message.empty()) {
    EXPECT_EQ(std::getenv("XF_REQUIRE_CUDA"), nullptr) << "XF_REQUIRE_CUDA is set but: " << message;
    skipReason = message;
  }
  return ContextPtr(context);
}

/// A context for `target`: the CPU's (2 threads), or the GPU device the runtime picks. Null, with the
/// reason in `skipReason`, when the machine has no such device.
inline ContextPtr makeTargetContext(const std::string &target, std::string &skipReason) {
  if (target == "vulkan")
    return makeVulkanContext(skipReason);
  if (target == "cuda")
    return makeCudaContext(skipReason);
  return makeContext(2);
}

/// xfc flags for the tensor-core form on `target` (mma.sync on cuda, its emulation elsewhere), with the split-K
/// threshold when `splitMinKeys` >= 0 and the m-tiles per warp when `mTiles` > 0 (else xfc's defaults).
inline std::string tensorCoreFlags(const std::string &target, int64_t splitMinKeys, int64_t mTiles) {
  // The emulation unrolls 32-lane warps into large functions that LLVM -O3 takes minutes to schedule; -O0
  // compiles them in seconds, and the tests need their numbers, not their speed.
  std::string flags = target == "cuda" ? " --cuda-tensor-cores" : " --xf-emulate-tensor-cores --xf-llvm-opt-level=0";
  if (splitMinKeys >= 0)
    flags += " --xf-tensor-cores-split-min-keys=" + std::to_string(splitMinKeys);
  if (mTiles > 0)
    flags += " --xf-tensor-cores-m-tiles=" + std::to_string(mTiles);
  return flags;
}

inline std::vector<float> randomNormals(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(count);
  for (float &value : values)
    value = normal(generator);
  return values;
}

} // namespace xf::test

#endif // XF_TEST_UNIT_KERNELHARNESS_H
