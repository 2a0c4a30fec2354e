//===- RuntimeTest.cpp - tests of libxfrt's C API and .npy I/O -------------===//
//
// This file has two roles. Built with XF_FAKE_MODULE it is a hand-written stand-in for an `xfc --emit=lib`
// artifact (kernels with the memref-descriptor ABI plus `xf_module_info`), so the runtime is tested without
// depending on the compiler. Built without it, it is the GoogleTest program that loads that module, whose
// path arrives as XF_FAKE_MODULE_PATH.
//
// The fake module's metadata is a writable array: a test that needs different metadata (a bad format, a
// missing symbol, ...) dlopens the module first and rewrites it; xfrt_module_open then gets the same, already
// loaded copy from the loader.
//
//===----------------------------------------------------------------------===//

#ifdef XF_FAKE_MODULE

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>

namespace {
template <int Rank> struct MemRef {
  float *allocated, *aligned;
  int64_t offset, sizes[Rank], strides[Rank];
};
using MemRef1 = MemRef<1>;
using MemRef4 = MemRef<4>;

std::mutex threadsMutex;
std::set<std::thread::id> threadsSeen;
std::atomic<int64_t> entryCalls{0};

void noteCall() {
  ++entryCalls;
  std::lock_guard<std::mutex> lock(threadsMutex);
  threadsSeen.insert(std::this_thread::get_id());
}

float &at(MemRef4 *m, int64_t b, int64_t h, int64_t s, int64_t e) {
  return m->aligned[m->offset + b * m->strides[0] + h * m->strides[1] + s * m->strides[2] + e * m->strides[3]];
}
} // namespace

extern "C" {
// Test hooks, found with dlsym by the test program.
int64_t fake_distinct_threads() { return static_cast<int64_t>(threadsSeen.size()); }
int64_t fake_entry_calls() { return entryCalls; }
void fake_reset() {
  std::lock_guard<std::mutex> lock(threadsMutex);
  threadsSeen.clear();
  entryCalls = 0;
}

char xf_module_info[4096] = R"({"format":1,"target":"cpu","future_module_key":{"x":[1,2]},"kernels":[
  {"name":"attn","kind":"attention","entry":"_mlir_ciface_attn","work_items":"_mlir_ciface_attn_work_items",
   "operands":[{"name":"query","shape":[-1,4,-1,8]},{"name":"key","shape":[-1,2,-1,8]},
               {"name":"value","shape":[-1,2,-1,8]},{"name":"output","shape":[-1,4,-1,8]}],
   "num_heads":4,"num_kv_heads":2,"head_dim":8,"head_dim_v":8,"causal":true,"window":0,
   "scale":0.35355339059327373,"future_kernel_key":"ignored"},
  {"name":"wide","kind":"weighted_sum","entry":"_mlir_ciface_wide","work_items":"_mlir_ciface_wide_work_items",
   "operands":[{"name":"a0","shape":[-1]},{"name":"a1","shape":[-1]},{"name":"a2","shape":[-1]},
               {"name":"a3","shape":[-1]},{"name":"a4","shape":[-1]},{"name":"a5","shape":[-1]},
               {"name":"a6","shape":[-1]},{"name":"a7","shape":[-1]},{"name":"a8","shape":[-1]},
               {"name":"a9","shape":[-1]},{"name":"a10","shape":[-1]},{"name":"sum","shape":[-1]}]},
  {"name":"slow","kind":"fill","entry":"_mlir_ciface_slow","work_items":"_mlir_ciface_slow_work_items",
   "operands":[{"name":"out","shape":[-1]}]}]})";

// The entry points take untyped descriptor pointers, as the runtime calls them (and as MLIR's are).
// Causal attention, one work item per query row (b, h, i); the query's last row sees the key's last row.
int64_t _mlir_ciface_attn_work_items(void *query, void *, void *, void *) {
  auto *q = static_cast<MemRef4 *>(query);
  return q->sizes[0] * q->sizes[1] * q->sizes[2];
}
void _mlir_ciface_attn(void *query, void *key, void *value, void *output, int64_t begin, int64_t end) {
  noteCall();
  auto *q = static_cast<MemRef4 *>(query), *k = static_cast<MemRef4 *>(key), *v = static_cast<MemRef4 *>(value),
       *o = static_cast<MemRef4 *>(output);
  int64_t numHeads = q->sizes[1], queryLength = q->sizes[2], keyLength = k->sizes[2];
  int64_t headsPerKvHead = numHeads / k->sizes[1];
  for (int64_t item = begin; item < end; ++item) {
    int64_t i = item % queryLength, h = (item / queryLength) % numHeads, b = item / (queryLength * numHeads);
    int64_t kvHead = h / headsPerKvHead;
    float runningMax = -INFINITY, denominator = 0, accumulator[8] = {};
    for (int64_t j = 0; j <= i + keyLength - queryLength; ++j) {
      float score = 0;
      for (int e = 0; e < 8; ++e)
        score += at(q, b, h, i, e) * at(k, b, kvHead, j, e);
      score *= 0.35355339059327373f;
      float newMax = std::max(runningMax, score), correction = std::exp(runningMax - newMax);
      float weight = std::exp(score - newMax);
      denominator = denominator * correction + weight;
      for (int e = 0; e < 8; ++e)
        accumulator[e] = accumulator[e] * correction + weight * at(v, b, kvHead, j, e);
      runningMax = newMax;
    }
    for (int e = 0; e < 8; ++e)
      at(o, b, h, i, e) = denominator > 0 ? accumulator[e] / denominator : 0;
  }
}

// sum = a0 + 2*a1 + ... + 11*a10: exercises the widest call the runtime supports (12 operands).
int64_t _mlir_ciface_wide_work_items(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *,
                                     void *, void *out) {
  return static_cast<MemRef1 *>(out)->sizes[0];
}
void _mlir_ciface_wide(void *a0, void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8,
                       void *a9, void *a10, void *out, int64_t begin, int64_t end) {
  noteCall();
  auto *sum = static_cast<MemRef1 *>(out);
  MemRef1 *inputs[11];
  void *given[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10};
  for (int k = 0; k < 11; ++k)
    inputs[k] = static_cast<MemRef1 *>(given[k]);
  for (int64_t i = begin; i < end; ++i) {
    float total = 0;
    for (int k = 0; k < 11; ++k)
      total += (k + 1) * inputs[k]->aligned[inputs[k]->offset + i * inputs[k]->strides[0]];
    sum->aligned[sum->offset + i * sum->strides[0]] = total;
  }
}

// Work items that take long enough (1 ms) that every thread of the pool gets some.
int64_t _mlir_ciface_slow_work_items(void *out) { return static_cast<MemRef1 *>(out)->sizes[0]; }
void _mlir_ciface_slow(void *output, int64_t begin, int64_t end) {
  noteCall();
  auto *out = static_cast<MemRef1 *>(output);
  for (int64_t i = begin; i < end; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    out->aligned[i] = static_cast<float>(i);
  }
}
} // extern "C"

#else // the test program

#include "runtime/src/Npy.h"
#include "runtime/src/PinTable.h"
#include "xfrt.hpp"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

const std::string kFakeModulePath = XF_FAKE_MODULE_PATH;

std::string temporaryPath(const std::string &name) {
  const char *directory = std::getenv("TMPDIR");
  return std::string(directory ? directory : "/tmp") + "/xfrt-test-" + std::to_string(getpid()) + "-" + name;
}

using xfrt::ContextPtr;
using xfrt::messageOf;
using xfrt::ModulePtr;
using xfrt::tensorOf;

ModulePtr openFakeModule() {
  xfrt_module *module = nullptr;
  EXPECT_EQ(messageOf(xfrt_module_open(kFakeModulePath.c_str(), &module)), "");
  return ModulePtr(module);
}

ContextPtr makeContext(int32_t numThreads) {
  xfrt_context *context = nullptr;
  EXPECT_EQ(messageOf(xfrt_context_create(numThreads, &context)), "");
  return ContextPtr(context);
}

/// Holds the fake module loaded and lets a test swap its metadata; restores the original afterwards.
class FakeModuleMetadata {
public:
  FakeModuleMetadata() {
    handle = dlopen(kFakeModulePath.c_str(), RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(handle, nullptr) << dlerror();
    info = static_cast<char *>(dlsym(handle, "xf_module_info"));
    original = info;
  }
  ~FakeModuleMetadata() {
    std::strcpy(info, original.c_str());
    dlclose(handle);
  }
  void replace(const std::string &from, const std::string &to) {
    std::string text = original;
    size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    ASSERT_LT(text.size(), 4096u);
    std::strcpy(info, text.c_str());
  }
  template <typename Function> Function *hook(const char *name) {
    return reinterpret_cast<Function *>(dlsym(handle, name));
  }

private:
  void *handle = nullptr;
  char *info = nullptr;
  std::string original;
};

std::string openError(const std::string &path) {
  xfrt_module *module = nullptr;
  std::string message = messageOf(xfrt_module_open(path.c_str(), &module));
  EXPECT_EQ(module, nullptr);
  return message;
}

//===----------------------------------------------------------------------===//
// Opening modules
//===----------------------------------------------------------------------===//

TEST(RuntimeModule, DescribesKernelsFromMetadata) {
  ModulePtr module = openFakeModule();
  ASSERT_TRUE(module);
  ASSERT_EQ(xfrt_module_num_kernels(module.get()), 3);
  EXPECT_STREQ(xfrt_module_kernel_name(module.get(), 0), "attn");
  EXPECT_EQ(xfrt_module_kernel_name(module.get(), 3), nullptr);
  EXPECT_STREQ(xfrt_kernel_kind(module.get(), "attn"), "attention");
  ASSERT_EQ(xfrt_kernel_num_operands(module.get(), "attn"), 4);
  EXPECT_STREQ(xfrt_kernel_operand_name(module.get(), "attn", 1), "key");
  EXPECT_EQ(xfrt_kernel_operand_name(module.get(), "attn", 4), nullptr);
  int64_t shape[XFRT_MAX_RANK];
  ASSERT_EQ(xfrt_kernel_operand_shape(module.get(), "attn", 1, shape), 4);
  EXPECT_EQ(std::vector<int64_t>(shape, shape + 4), (std::vector<int64_t>{-1, 2, -1, 8}));
  EXPECT_STREQ(xfrt_kernel_attribute(module.get(), "attn", "num_heads"), "4");
  EXPECT_STREQ(xfrt_kernel_attribute(module.get(), "attn", "causal"), "true");
  EXPECT_STREQ(xfrt_kernel_attribute(module.get(), "attn", "scale"), "0.35355339059327373");
  EXPECT_STREQ(xfrt_kernel_attribute(module.get(), "attn", "future_kernel_key"), "\"ignored\"");
  EXPECT_EQ(xfrt_kernel_attribute(module.get(), "attn", "entry"), nullptr);
  EXPECT_EQ(xfrt_kernel_num_attributes(module.get(), "attn"), 8);
  EXPECT_STREQ(xfrt_kernel_attribute_name(module.get(), "attn", 0), "causal"); // sorted by name
  // NULL names the only kernel, so it finds nothing in a module with three.
  EXPECT_EQ(xfrt_kernel_num_operands(module.get(), nullptr), -1);
  EXPECT_EQ(xfrt_kernel_num_operands(module.get(), "nope"), -1);
}

TEST(RuntimeModule, MissingFileIsAnErrorNamingIt) {
  EXPECT_EQ(openError("/nonexistent/libmodel.so"), "/nonexistent/libmodel.so: cannot open: No such file or directory");
}

TEST(RuntimeModule, RejectsFilesThatAreNotSharedLibraries) {
  std::string path = temporaryPath("not-a-library.so");
  std::ofstream(path) << "hello";
  std::string message = openError(path);
  EXPECT_EQ(message.rfind(path + ": not a loadable shared library", 0), 0u) << message;
  std::remove(path.c_str());
}

TEST(RuntimeDtype, NamesSizesAndRounding) {
  EXPECT_STREQ(xfrt_dtype_name(XFRT_F32), "f32");
  EXPECT_STREQ(xfrt_dtype_name(XFRT_BF16), "bf16");
  EXPECT_STREQ(xfrt_dtype_name(XFRT_F16), "f16");
  EXPECT_EQ(xfrt_dtype_name(static_cast<xfrt_dtype>(7)), nullptr);
  EXPECT_EQ(xfrt_dtype_size(XFRT_F32), 4u);
  EXPECT_EQ(xfrt_dtype_size(XFRT_BF16), 2u);
  EXPECT_EQ(xfrt_dtype_size(static_cast<xfrt_dtype>(7)), 0u);
  // bf16: round to nearest, ties to even; NaN stays NaN.
  EXPECT_EQ(xfrt::toBf16(1.0f), 0x3f80);
  EXPECT_EQ(xfrt::toBf16(1.0f + 0x1p-8f), 0x3f80);           // a tie, to the even 1.0
  EXPECT_EQ(xfrt::toBf16(1.0f + 3 * 0x1p-8f), 0x3f82);       // a tie, to the even 1 + 2^-6
  EXPECT_EQ(xfrt::toBf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81); // above the tie
  EXPECT_TRUE(std::isnan(xfrt::fromBf16(xfrt::toBf16(NAN))));
  EXPECT_EQ(xfrt::fromBf16(xfrt::toBf16(-2.5f)), -2.5f);
  // f16: ties to even, overflow to infinity, subnormals kept.
  EXPECT_EQ(xfrt::toF16(1.0f), 0x3c00);
  EXPECT_EQ(xfrt::toF16(1.0f + 0x1p-11f), 0x3c00);
  EXPECT_EQ(xfrt::toF16(1.0f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(xfrt::toF16(65504.0f), 0x7bff);
  EXPECT_EQ(xfrt::toF16(65520.0f), 0x7c00);
  EXPECT_EQ(xfrt::toF16(-0x1p-24f), 0x8001);
  EXPECT_EQ(xfrt::fromF16(0x0001), 0x1p-24f);
  EXPECT_TRUE(std::isinf(xfrt::fromF16(0x7c00)));
}

// The GPU devices' table of pinned arrays: counted pins, prefix lookups (a call may bind the front of a
// pinned array, as a model's activations at a smaller token count), residency fixed by the first pin.
TEST(RuntimePinTable, CountsPinsAndFindsPrefixes) {
  xf::rt::PinTable<int> table;
  int created = 0, destroyed = 0;
  auto create = [&](int &copy) {
    copy = ++created;
    return llvm::Error::success();
  };
  auto destroy = [&](int &) { ++destroyed; };
  float weights[8] = {}, activations[4] = {};
  ASSERT_FALSE(llvm::errorToBool(table.pin(weights, sizeof(weights), false, create, destroy)));
  ASSERT_FALSE(llvm::errorToBool(table.pin(weights, sizeof(weights), false, create, destroy)));
  EXPECT_EQ(created, 1);
  ASSERT_FALSE(llvm::errorToBool(table.pin(activations, sizeof(activations), true, create, destroy)));
  EXPECT_EQ(*table.find(weights, 8).copy, 1);
  EXPECT_EQ(table.find(weights, 0).bytes, sizeof(weights));
  EXPECT_FALSE(table.find(weights, 8).resident);
  EXPECT_EQ(table.find(weights, sizeof(weights) + 4).copy, nullptr); // more than is pinned
  EXPECT_EQ(table.find(weights + 1, 4).copy, nullptr);                // not the array's start
  EXPECT_TRUE(table.find(activations, 16).resident);
  // Inside a resident array, past its start: refused by the devices (its host bytes are stale).
  EXPECT_TRUE(table.insideResident(activations + 1));
  EXPECT_TRUE(table.insideResident(activations + 3));
  EXPECT_FALSE(table.insideResident(activations));
  EXPECT_FALSE(table.insideResident(activations + 4));
  EXPECT_FALSE(table.insideResident(weights + 1)); // not resident
  // Pinning again with another size or residency is refused and leaves the first pin as it was.
  EXPECT_EQ(llvm::toString(table.pin(weights, 16, false, create, destroy)),
            "pinned twice with different sizes or residency");
  EXPECT_EQ(llvm::toString(table.pin(activations, sizeof(activations), false, create, destroy)),
            "pinned twice with different sizes or residency");
  table.unpin(weights, destroy);
  EXPECT_EQ(destroyed, 0);
  table.unpin(weights, destroy);
  EXPECT_EQ(destroyed, 1);
  EXPECT_EQ(table.find(weights, 0).copy, nullptr);
  EXPECT_NE(table.find(activations, 0).copy, nullptr);
  table.unpin(activations, destroy);
  EXPECT_FALSE(table.insideResident(activations + 1));
  ASSERT_FALSE(llvm::errorToBool(table.pin(activations, sizeof(activations), true, create, destroy)));
  table.clear(destroy);
  EXPECT_FALSE(table.insideResident(activations + 1));
  EXPECT_EQ(destroyed, 3);
}

TEST(RuntimeModule, RejectsLibrariesWithoutModuleInfo) {
  std::string message = openError(XFRT_LIBRARY_PATH);
  EXPECT_EQ(message, std::string(XFRT_LIBRARY_PATH) + ": not an xf module (no 'xf_module_info' symbol)");
}

struct BadMetadataCase {
  const char *from, *to, *expectedMessage;
};

class RuntimeBadMetadata : public testing::TestWithParam<BadMetadataCase> {};

TEST_P(RuntimeBadMetadata, IsAnErrorNamingTheLibrary) {
  FakeModuleMetadata metadata;
  metadata.replace(GetParam().from, GetParam().to);
  EXPECT_EQ(openError(kFakeModulePath), kFakeModulePath + ": " + GetParam().expectedMessage);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RuntimeBadMetadata,
    testing::Values(
        BadMetadataCase{"\"format\":1", "\"format\":2",
                        "xf_module_info format 2 is not supported (this runtime reads format 1)"},
        BadMetadataCase{"\"format\":1,", "", "xf_module_info: missing key 'format'"},
        BadMetadataCase{"\"format\":1,", "\"format\":1,,",
                        "xf_module_info is not valid JSON: [1:13, byte=13]: Expected object key"},
        BadMetadataCase{"\"target\":\"cpu\"", "\"target\":\"metal\"",
                        "module is compiled for target 'metal', this runtime runs 'cpu', 'vulkan' and 'cuda' modules"},
        BadMetadataCase{"\"target\":\"cpu\"", "\"target\":\"cuda\"",
                        "kernel 'attn': a cuda module's kernels need 'gpu' launch metadata"},
        BadMetadataCase{"\"entry\":\"_mlir_ciface_wide\"", "\"entry\":\"_mlir_ciface_gone\"",
                        "kernel 'wide': symbol '_mlir_ciface_gone' not found"},
        BadMetadataCase{"\"kind\":\"fill\",", "", "kernel 'slow': missing key 'kind'"},
        BadMetadataCase{"\"num_kv_heads\":2,", "",
                        "kernel 'attn': attention kernel needs a positive integer 'num_kv_heads'"},
        BadMetadataCase{"{\"name\":\"key\",\"shape\":[-1,2,-1,8]}", "{\"name\":\"key\",\"shape\":[-1,3,-1,8]}",
                        "kernel 'attn': operand 'key' dim 1 is 3 but num_kv_heads is 2"},
        BadMetadataCase{"{\"name\":\"key\",\"shape\":[-1,2,-1,8]}",
                        "{\"name\":\"key\",\"shape\":[-1,2,-1,8],\"dtype\":\"f8\"}",
                        "kernel 'attn': operands[1] ('key'): 'dtype' must be \"f32\", \"bf16\" or \"f16\""},
        // Scratch (split-K partials) is a CUDA launch's: a SPIR-V kernel asking for it is refused.
        BadMetadataCase{"\"future_kernel_key\":\"ignored\"}",
                        "\"future_kernel_key\":\"ignored\",\"gpu\":{\"binary\":\"b\",\"entry\":\"attn\","
                        "\"binary_size\":4,\"workgroup_size\":64,\"push_constants\":[],\"scratch_words_per_item\":2}}",
                        "kernel 'attn': gpu: 'scratch_words_per_item' must be a positive integer, on a cuda kernel"},
        BadMetadataCase{"\"future_kernel_key\":\"ignored\"}",
                        "\"future_kernel_key\":\"ignored\",\"gpu\":{\"binary\":\"b\",\"entry\":\"attn\","
                        "\"binary_size\":4,\"workgroup_size\":64,\"push_constants\":[],\"workgroup_memory\":-4}}",
                        "kernel 'attn': gpu: 'workgroup_memory' must be a non-negative integer"},
        // Pitches (a KV cache's capacity) stand for dynamic row counts: a fixed or leading dim cannot have one.
        BadMetadataCase{"\"future_kernel_key\":\"ignored\"}",
                        "\"future_kernel_key\":\"ignored\",\"gpu\":{\"binary\":\"b\",\"entry\":\"attn\","
                        "\"binary_size\":4,\"workgroup_size\":64,\"push_constants\":[],\"pitches\":[[1,2],[1,1]]}}",
                        "kernel 'attn': gpu: pitch of operand 1 dim 1: only a dynamic dimension past the first can be "
                        "pitched"},
        BadMetadataCase{"\"future_kernel_key\":\"ignored\"}",
                        "\"future_kernel_key\":\"ignored\",\"gpu\":{\"binary\":\"b\",\"entry\":\"attn\","
                        "\"binary_size\":4,\"workgroup_size\":64,\"push_constants\":[],\"pitches\":[[9,2]]}}",
                        "kernel 'attn': gpu: pitches must be [operand, dimension] pairs naming an operand dimension"}));

//===----------------------------------------------------------------------===//
// Running kernels
//===----------------------------------------------------------------------===//

/// Attention operands for the fake kernel (H = 4, Hkv = 2, D = Dv = 8) with random inputs.
struct AttentionProblem {
  AttentionProblem(int64_t batch, int64_t queryLength, int64_t keyLength)
      : queryShape{batch, 4, queryLength, 8}, keyShape{batch, 2, keyLength, 8} {
    std::mt19937 generator(42);
    std::uniform_real_distribution<float> distribution(-1, 1);
    auto random = [&](std::vector<int64_t> shape) {
      std::vector<float> values(shape[0] * shape[1] * shape[2] * shape[3]);
      for (float &value : values)
        value = distribution(generator);
      return values;
    };
    query = random(queryShape);
    key = random(keyShape);
    value = random(keyShape);
    output.assign(query.size(), NAN);
  }

  std::vector<xfrt_tensor> operands() {
    return {tensorOf(query, queryShape), tensorOf(key, keyShape), tensorOf(value, keyShape),
            tensorOf(output, queryShape)};
  }

  /// Causal attention in double precision, written independently of the fake kernel's online softmax.
  std::vector<double> reference() const {
    int64_t batch = queryShape[0], queryLength = queryShape[2], keyLength = keyShape[2];
    std::vector<double> result(output.size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t i = 0; i < queryLength; ++i) {
          int64_t kvHead = h / 2, visible = i + keyLength - queryLength + 1;
          std::vector<double> scores(visible);
          double maxScore = -INFINITY, total = 0;
          for (int64_t j = 0; j < visible; ++j) {
            for (int64_t e = 0; e < 8; ++e)
              scores[j] += double(query[((b * 4 + h) * queryLength + i) * 8 + e]) *
                           key[((b * 2 + kvHead) * keyLength + j) * 8 + e] / std::sqrt(8.0);
            maxScore = std::max(maxScore, scores[j]);
          }
          for (double &score : scores)
            total += score = std::exp(score - maxScore);
          for (int64_t e = 0; e < 8; ++e) {
            double sum = 0;
            for (int64_t j = 0; j < visible; ++j)
              sum += scores[j] * value[((b * 2 + kvHead) * keyLength + j) * 8 + e];
            result[((b * 4 + h) * queryLength + i) * 8 + e] = sum / total;
          }
        }
    return result;
  }

  std::vector<int64_t> queryShape, keyShape;
  std::vector<float> query, key, value, output;
};

std::string runAttention(xfrt_context *context, xfrt_module *module, std::vector<xfrt_tensor> operands) {
  return messageOf(xfrt_kernel_run(context, module, "attn", operands.data(), operands.size()));
}

class RuntimeAttention : public testing::TestWithParam<int32_t> {};

TEST_P(RuntimeAttention, MatchesReference) {
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(GetParam());
  ASSERT_EQ(xfrt_context_num_threads(context.get()), GetParam());
  AttentionProblem problem(/*batch=*/2, /*queryLength=*/37, /*keyLength=*/53);
  ASSERT_EQ(runAttention(context.get(), module.get(), problem.operands()), "");
  std::vector<double> expected = problem.reference();
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(problem.output[i], expected[i], 1e-5) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(Threads, RuntimeAttention, testing::Values(1, 2, 3));

TEST(RuntimeRun, ZeroWorkItemsCallsNothing) {
  FakeModuleMetadata metadata;
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(2);
  metadata.hook<void()>("fake_reset")();
  AttentionProblem problem(/*batch=*/1, /*queryLength=*/0, /*keyLength=*/5);
  EXPECT_EQ(runAttention(context.get(), module.get(), problem.operands()), "");
  EXPECT_EQ(metadata.hook<int64_t()>("fake_entry_calls")(), 0);
}

TEST(RuntimeRun, UsesEveryThread) {
  FakeModuleMetadata metadata;
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(2);
  metadata.hook<void()>("fake_reset")();
  std::vector<float> out(64, -1);
  xfrt_tensor operand = tensorOf(out, {64});
  ASSERT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "slow", &operand, 1)), "");
  EXPECT_EQ(metadata.hook<int64_t()>("fake_distinct_threads")(), 2);
  for (int i = 0; i < 64; ++i)
    ASSERT_EQ(out[i], i);
}

TEST(RuntimeRun, PassesTwelveOperands) {
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(2);
  const int64_t size = 1000;
  std::vector<std::vector<float>> buffers(12, std::vector<float>(size));
  for (int k = 0; k < 11; ++k)
    for (int64_t i = 0; i < size; ++i)
      buffers[k][i] = static_cast<float>(i % 7 + k);
  std::vector<xfrt_tensor> operands;
  for (std::vector<float> &buffer : buffers)
    operands.push_back(tensorOf(buffer, {size}));
  ASSERT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "wide", operands.data(), 12)), "");
  for (int64_t i = 0; i < size; ++i) {
    float expected = 0;
    for (int k = 0; k < 11; ++k)
      expected += (k + 1) * static_cast<float>(i % 7 + k);
    ASSERT_EQ(buffers[11][i], expected) << i;
  }
}

// A dense kind whose checks name operands the metadata lacks is refused, not read out of bounds.
TEST(RuntimeRun, DenseKindWithoutItsOperandsIsRefused) {
  FakeModuleMetadata metadata;
  metadata.replace("\"kind\":\"weighted_sum\"", "\"kind\":\"dense_qkv_value\"");
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(1);
  std::vector<std::vector<float>> buffers(12, std::vector<float>(4));
  std::vector<xfrt_tensor> operands;
  for (std::vector<float> &buffer : buffers)
    operands.push_back(tensorOf(buffer, {4}));
  EXPECT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "wide", operands.data(), 12)),
            "kernel 'wide': its kind 'dense_qkv_value' needs an operand 'input', which the module's metadata does "
            "not list (a malformed module)");
}

TEST(RuntimeRun, ConcurrentCallsShareAContext) {
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(2);
  AttentionProblem first(1, 64, 64), second(2, 17, 33);
  std::string firstMessage, secondMessage;
  std::thread other([&] { secondMessage = runAttention(context.get(), module.get(), second.operands()); });
  firstMessage = runAttention(context.get(), module.get(), first.operands());
  other.join();
  EXPECT_EQ(firstMessage, "");
  EXPECT_EQ(secondMessage, "");
  for (AttentionProblem *problem : {&first, &second}) {
    std::vector<double> expected = problem->reference();
    for (size_t i = 0; i < expected.size(); ++i)
      ASSERT_NEAR(problem->output[i], expected[i], 1e-5);
  }
}

TEST(RuntimeRun, ChecksOperandsBeforeRunning) {
  ModulePtr module = openFakeModule();
  ContextPtr context = makeContext(1);
  auto attentionError = [&](auto mutate) {
    AttentionProblem problem(2, 5, 7);
    std::vector<xfrt_tensor> operands = problem.operands();
    mutate(operands);
    return runAttention(context.get(), module.get(), operands);
  };
  EXPECT_EQ(attentionError([](auto &ops) { ops.pop_back(); }),
            "kernel 'attn' takes 4 operands (query, key, value, output), got 3");
  EXPECT_EQ(attentionError([](auto &ops) { ops[1].rank = 3; }), "kernel 'attn': operand 'key' has rank 3, expected 4");
  EXPECT_EQ(attentionError([](auto &ops) { ops[1].shape[1] = 4; }),
            "kernel 'attn': operand 'key' dim 1 is 4, expected 2");
  EXPECT_EQ(attentionError([](auto &ops) { ops[0].shape[2] = -3; }),
            "kernel 'attn': operand 'query' dim 2 is -3, sizes must be >= 0");
  EXPECT_EQ(attentionError([](auto &ops) { ops[2].data = nullptr; }),
            "kernel 'attn': operand 'value' has a NULL data pointer");
  EXPECT_EQ(attentionError([](auto &ops) { ops[2].shape[0] = 1; }),
            "kernel 'attn': batch mismatch: query has batch 2, value has 1");
  EXPECT_EQ(attentionError([](auto &ops) { ops[3].shape[2] = 4; }),
            "kernel 'attn': query has 5 positions (dim 2) but output has 4");
  EXPECT_EQ(attentionError([](auto &ops) { ops[2].shape[2] = 6; }),
            "kernel 'attn': key has 7 positions (dim 2) but value has 6");

  AttentionProblem problem(1, 2, 2);
  std::vector<xfrt_tensor> operands = problem.operands();
  EXPECT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), "nope", operands.data(), 4)),
            kFakeModulePath + ": no kernel 'nope'; it has: attn, wide, slow");
  EXPECT_EQ(messageOf(xfrt_kernel_run(context.get(), module.get(), nullptr, operands.data(), 4)),
            kFakeModulePath + ": no kernel named and the module has 3 kernels; it has: attn, wide, slow");
}

TEST(RuntimeContext, CreatesThreadsOrFailsCleanly) {
  ContextPtr context = makeContext(0);
  EXPECT_EQ(xfrt_context_num_threads(context.get()),
            std::max<int32_t>(1, static_cast<int32_t>(std::thread::hardware_concurrency())));
  xfrt_context *bad = nullptr;
  EXPECT_EQ(messageOf(xfrt_context_create(-1, &bad)),
            "xfrt_context_create: num_threads is -1, expected 0 (all cores) to 1024");
  EXPECT_EQ(bad, nullptr);
  EXPECT_STREQ(xfrt_status_message(nullptr), "success");
}

//===----------------------------------------------------------------------===//
// .npy files
//===----------------------------------------------------------------------===//

std::string npyImage(int major, const std::string &dict, size_t dataBytes) {
  std::string header = dict + "\n";
  std::string image = std::string("\x93NUMPY", 6) + char(major) + char(0);
  if (major == 1) {
    image += char(header.size() & 0xff);
    image += char(header.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i)
      image += char((header.size() >> (8 * i)) & 0xff);
  }
  return image + header + std::string(dataBytes, '\0');
}

TEST(Npy, RoundTripsEveryRank) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {5}, {2, 3}, {2, 0, 4}, {1, 2, 1, 2, 1, 2, 1, 2}}) {
    xf::npy::Array array;
    array.shape = shape;
    array.data.resize(array.numElements());
    for (size_t i = 0; i < array.data.size(); ++i)
      array.data[i] = 0.5f * i - 3;
    std::string path = temporaryPath("roundtrip.npy");
    ASSERT_EQ(xf::npy::write(path, array), "");
    xf::npy::ReadResult read = xf::npy::read(path);
    ASSERT_TRUE(read) << read.error;
    EXPECT_EQ(read.array.shape, array.shape);
    EXPECT_EQ(read.array.data, array.data);
    std::ifstream file(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    EXPECT_EQ((bytes.size() - 4 * array.data.size()) % 64, 0u) << "data must start 64-byte aligned";
    EXPECT_EQ(bytes[6], 1) << "written as version 1.0";
    std::remove(path.c_str());
  }
}

TEST(Npy, ReadsVersion2Headers) {
  std::string image = npyImage(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12);
  xf::npy::ReadResult read = xf::npy::parse(image.data(), image.size(), "v2.npy");
  ASSERT_TRUE(read) << read.error;
  EXPECT_EQ(read.array.shape, std::vector<int64_t>{3});
}

TEST(Npy, ReportsBadFilesByName) {
  auto parseError = [](const std::string &image) {
    return xf::npy::parse(image.data(), image.size(), "x.npy").error;
  };
  EXPECT_EQ(parseError("PK\x03\x04 zip"), "x.npy: not a .npy file (bad magic)");
  EXPECT_EQ(parseError(npyImage(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16)),
            "x.npy: dtype '<f8' is not supported, expected '<f4' (float32)");
  EXPECT_EQ(parseError(npyImage(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16)),
            "x.npy: Fortran-order arrays are not supported, expected C order (fortran_order: False)");
  EXPECT_EQ(parseError(npyImage(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20)),
            "x.npy: truncated: shape (2, 3) needs 24 bytes of data, the file has 20");
  EXPECT_EQ(parseError(npyImage(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4)),
            "x.npy: rank 9 exceeds the maximum of 8");
  EXPECT_EQ(parseError(npyImage(1, "{'descr': '<f4', 'shape': (2,), }", 8)),
            "x.npy: header lacks one of 'descr', 'fortran_order', 'shape'");
  EXPECT_EQ(xf::npy::read("/nonexistent/q.npy").error, "/nonexistent/q.npy: cannot read: No such file or directory");
}

} // namespace

#endif // XF_FAKE_MODULE
