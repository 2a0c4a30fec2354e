//===- SafetensorsTest.cpp - the .safetensors weight reader -----------------===//
//
// Every test writes its files into a fresh temporary directory with the small writer below, so the
// expected bytes are visible next to each check.
//
//===----------------------------------------------------------------------===//
#include "runtime/src/Safetensors.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using xf::rt::WeightInfo;
using xf::rt::WeightStore;
using xf::rt::WeightType;

namespace {

/// One tensor to write: its header fields and raw data bytes.
struct Tensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string data;
};

std::string f32Bytes(const std::vector<float> &values) {
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i)
    llvm::support::endian::write<float, llvm::endianness::little>(&bytes[4 * i], values[i]);
  return bytes;
}

std::string u16Bytes(const std::vector<uint16_t> &values) {
  std::string bytes(values.size() * 2, '\0');
  for (size_t i = 0; i < values.size(); ++i)
    llvm::support::endian::write<uint16_t, llvm::endianness::little>(&bytes[2 * i], values[i]);
  return bytes;
}

/// A safetensors image: the 8-byte length, `header` verbatim, then `data`.
std::string image(const std::string &header, const std::string &data = "") {
  std::string bytes(8, '\0');
  llvm::support::endian::write<uint64_t, llvm::endianness::little>(&bytes[0], header.size());
  return bytes + header + data;
}

/// A well-formed image of `tensors`, laid out in order, header padded to 8 bytes as the Python writer does.
std::string image(const std::vector<Tensor> &tensors, const std::string &metadata = "") {
  std::string header = "{", data;
  if (!metadata.empty())
    header += "\"__metadata__\":" + metadata + ",";
  for (const Tensor &t : tensors) {
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + t.data.size()) + "]},";
    data += t.data;
  }
  if (header.back() == ',')
    header.pop_back();
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  return image(header, data);
}

/// A header with one entry `name` -> `entry` (JSON text) over `dataBytes` zero bytes of data.
std::string oneEntry(const std::string &entry, size_t dataBytes = 16, const std::string &name = "w") {
  return image("{\"" + name + "\":" + entry + "}", std::string(dataBytes, '\0'));
}

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("xf-safetensors-test", path));
    dir = path.str().str();
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string write(const std::string &name, const std::string &bytes) {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    llvm::sys::fs::create_directories(llvm::sys::path::parent_path(path));
    std::error_code ec;
    llvm::raw_fd_ostream out(path, ec);
    EXPECT_FALSE(ec) << ec.message();
    out << bytes;
    return path.str().str();
  }

  /// Opens `bytes` written as `name`; expects success.
  std::unique_ptr<WeightStore> open(const std::string &bytes, const std::string &name = "model.safetensors") {
    std::string error;
    std::unique_ptr<WeightStore> store = WeightStore::open(write(name, bytes), error);
    EXPECT_TRUE(store) << error;
    EXPECT_EQ(error, "");
    return store;
  }

  /// Opens `path`; expects failure and returns the message, which must start with `prefix` (by default
  /// the file opened).
  std::string openError(const std::string &path, std::string prefix = "") {
    std::string error;
    std::unique_ptr<WeightStore> store = WeightStore::open(path, error);
    EXPECT_FALSE(store);
    if (prefix.empty())
      prefix = path;
    EXPECT_EQ(error.rfind(prefix + ": ", 0), 0u) << error;
    return error;
  }
  std::string bytesError(const std::string &bytes) { return openError(write("bad.safetensors", bytes)); }

  std::string dir;
};

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, F32RoundTrip) {
  std::vector<float> values = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-40f, INFINITY, 123456.789f};
  auto store = open(image({{"a", "F32", {2, 4}, f32Bytes(values)}}));
  ASSERT_TRUE(store);
  std::vector<float> out(8, 7.0f);
  EXPECT_EQ(store->readF32("a", {2, 4}, out.data()), "");
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(bitsOf(out[i]), bitsOf(values[i])) << i;
}

TEST_F(SafetensorsTest, F16RoundTrip) {
  // 1, -2.5, 65504 (largest), 2^-14 (smallest normal), 2^-24 (smallest subnormal), 1023 * 2^-24 (largest
  // subnormal), -2^-23 (negative subnormal), -0, +inf, -inf, quiet NaN.
  std::vector<uint16_t> halves = {0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x03ff,
                                  0x8002, 0x8000, 0x7c00, 0xfc00, 0x7e00};
  std::vector<float> expected = {1.0f,  -2.5f,           65504.0f,     std::ldexp(1.0f, -14),
                                 std::ldexp(1.0f, -24), std::ldexp(1023.0f, -24), -std::ldexp(1.0f, -23),
                                 -0.0f, INFINITY,        -INFINITY,    NAN};
  auto store = open(image({{"h", "F16", {11}, u16Bytes(halves)}}));
  ASSERT_TRUE(store);
  std::vector<float> out(11);
  EXPECT_EQ(store->readF32("h", {11}, out.data()), "");
  for (size_t i = 0; i + 1 < out.size(); ++i)
    EXPECT_EQ(bitsOf(out[i]), bitsOf(expected[i])) << i;
  EXPECT_TRUE(std::isnan(out[10]));
}

TEST_F(SafetensorsTest, BF16RoundTrip) {
  // 1, -3.140625, the largest finite, the smallest subnormal, +inf, -0, NaN.
  std::vector<uint16_t> values = {0x3f80, 0xc049, 0x7f7f, 0x0001, 0x7f80, 0x8000, 0x7fc1};
  auto store = open(image({{"b", "BF16", {7, 1}, u16Bytes(values)}}));
  ASSERT_TRUE(store);
  std::vector<float> out(7);
  EXPECT_EQ(store->readF32("b", {7, 1}, out.data()), "");
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.140625f);
  EXPECT_EQ(out[2], 0x1.fep127f);
  EXPECT_EQ(out[3], std::ldexp(1.0f, -133));
  EXPECT_EQ(out[4], INFINITY);
  EXPECT_EQ(bitsOf(out[5]), 0x80000000u);
  EXPECT_EQ(bitsOf(out[6]), 0x7fc10000u); // the payload survives
}

// Every half and bfloat16 bit pattern against LLVM's APFloat conversion.
TEST_F(SafetensorsTest, ConversionsMatchAPFloatExhaustively) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    for (bool brain : {false, true}) {
      const llvm::fltSemantics &semantics = brain ? llvm::APFloat::BFloat() : llvm::APFloat::IEEEhalf();
      llvm::APFloat reference(semantics, llvm::APInt(16, bits));
      bool losesInfo = false;
      reference.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven, &losesInfo);
      float expected = reference.convertToFloat();
      float actual = brain ? xf::rt::bfloat16ToFloat(bits) : xf::rt::halfToFloat(bits);
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(actual)) << bits;
        EXPECT_EQ(std::signbit(actual), std::signbit(expected)) << bits;
      } else {
        EXPECT_EQ(bitsOf(actual), bitsOf(expected)) << (brain ? "bf16 " : "f16 ") << bits;
      }
    }
  }
}

// readF32 of every half bit pattern (F16C's vector conversion on x86-64, in groups of 8) gives halfToFloat's
// bits, NaN payloads included; an odd offset and count exercise the scalar tail.
TEST_F(SafetensorsTest, F16ReadMatchesScalarExhaustively) {
  std::vector<uint16_t> halves(0x10000 + 3);
  for (size_t i = 0; i < halves.size(); ++i)
    halves[i] = static_cast<uint16_t>((i * 40503u) & 0xffff); // a permutation: finite and NaN neighbours mix
  auto store = open(image({{"h", "F16", {static_cast<int64_t>(halves.size())}, u16Bytes(halves)}}));
  ASSERT_TRUE(store);
  std::vector<float> out(halves.size());
  ASSERT_EQ(store->readF32("h", {static_cast<int64_t>(halves.size())}, out.data()), "");
  for (size_t i = 0; i < halves.size(); ++i)
    ASSERT_EQ(bitsOf(out[i]), bitsOf(xf::rt::halfToFloat(halves[i]))) << "half bits " << halves[i];
}

// MXFP4 (gpt-oss's experts): e2m1 nibbles, the low one first, times 2^(scale - 127), dequantized into the
// unquantized tensor's layout [E, K, N] from blocks [E, N, K / 32, 16] and scales [E, N, K / 32].
TEST_F(SafetensorsTest, Mxfp4DequantizesIntoTheTransposedLayout) {
  const float values[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0f, -0.5, -1, -1.5, -2, -3, -4, -6};
  const int64_t E = 3, N = 3, K = 64, G = K / 32; // 3 experts: split unevenly over the cores
  auto expectContains = [](const std::string &text, const std::string &part) {
    EXPECT_NE(text.find(part), std::string::npos) << "'" << text << "' lacks '" << part << "'";
  };
  std::string blocks, scales;
  auto nibble = [](int64_t e, int64_t n, int64_t k) { return static_cast<uint8_t>((e * 7 + n * 5 + k * 3) & 0xf); };
  auto exponent = [](int64_t e, int64_t n, int64_t g) { return static_cast<int>(e + n - g) - 1; }; // -2 .. 3
  for (int64_t e = 0; e < E; ++e)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t g = 0; g < G; ++g) {
        scales.push_back(static_cast<char>(127 + exponent(e, n, g)));
        for (int64_t b = 0; b < 16; ++b) {
          int64_t k = g * 32 + 2 * b;
          blocks.push_back(static_cast<char>(nibble(e, n, k) | nibble(e, n, k + 1) << 4));
        }
      }
  auto store = open(image({{"x.w_blocks", "U8", {E, N, G, 16}, blocks}, {"x.w_scales", "U8", {E, N, G}, scales}}));
  ASSERT_TRUE(store);
  std::vector<float> out(E * K * N, 99.0f);
  ASSERT_EQ(store->readMxfp4("x.w", {E, K, N}, out.data()), "");
  for (int64_t e = 0; e < E; ++e)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        float expected = std::ldexp(values[nibble(e, n, k)], exponent(e, n, k / 32));
        ASSERT_EQ(bitsOf(out[(e * K + k) * N + n]), bitsOf(expected)) << e << " " << k << " " << n;
      }
  // Extreme scales: 2^-127 and 2^-126 give subnormals, 2^126 and 2^127 the largest values (6 * 2^127
  // overflows to infinity): each the exact value rounded once to float.
  {
    const uint8_t extremes[4] = {0, 1, 253, 254};
    std::string extremeBlocks, extremeScales;
    for (int64_t n = 0; n < 4; ++n) {
      extremeScales.push_back(static_cast<char>(extremes[n]));
      for (int64_t b = 0; b < 16; ++b)
        extremeBlocks.push_back(static_cast<char>(b | (15 - b) << 4));
    }
    auto wide = open(image({{"z.w_blocks", "U8", {1, 4, 1, 16}, extremeBlocks}, {"z.w_scales", "U8", {1, 4, 1}, extremeScales}}));
    ASSERT_TRUE(wide);
    std::vector<float> z(32 * 4);
    ASSERT_EQ(wide->readMxfp4("z.w", {1, 32, 4}, z.data()), "");
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t k = 0; k < 32; ++k) {
        int code = k % 2 ? 15 - k / 2 : k / 2;
        float expected = static_cast<float>(std::ldexp(double(values[code]), int(extremes[n]) - 127));
        ASSERT_EQ(bitsOf(z[k * 4 + n]), bitsOf(expected)) << "scale " << int(extremes[n]) << " code " << code;
      }
  }
  // The packed tensors are not float tensors, and the pair must match the shape asked for.
  expectContains(store->readF32("x.w_blocks", {E, N, G, 16}, out.data()), "is U8 (packed data)");
  expectContains(store->readMxfp4("x.w", {E, K + 32, N}, out.data()), "weight 'x.w_blocks' has shape [3, 3, 2, 16] but the model needs [3, 3, 3, 16]");
  expectContains(store->readMxfp4("x.w", {E, K, N + 1}, out.data()), "x.w_blocks' has shape");
  expectContains(store->readMxfp4("x.w", {E, 48, N}, out.data()), "K a multiple of 32");
  expectContains(store->readMxfp4("y.w", {E, K, N}, out.data()), "missing weight 'y.w_blocks'");
  auto half = open(image({{"x.w_blocks", "U8", {E, N, G, 16}, blocks}}));
  ASSERT_TRUE(half);
  expectContains(half->readMxfp4("x.w", {E, K, N}, out.data()), "missing weight 'x.w_scales' (MXFP4 'x.w' needs both _blocks and _scales)");
  auto wrongType = open(image({{"x.w_blocks", "U8", {E, N, G, 16}, blocks},
                               {"x.w_scales", "BF16", {E, N, G}, u16Bytes(std::vector<uint16_t>(E * N * G))}}));
  ASSERT_TRUE(wrongType);
  expectContains(wrongType->readMxfp4("x.w", {E, K, N}, out.data()),
                 "weight 'x.w_scales' has dtype BF16; MXFP4 blocks and scales are U8");
  // E8M0's NaN scale is refused, not dequantized.
  std::string nanScales = scales;
  nanScales[5] = static_cast<char>(0xff);
  auto nan = open(image({{"x.w_blocks", "U8", {E, N, G, 16}, blocks}, {"x.w_scales", "U8", {E, N, G}, nanScales}}));
  ASSERT_TRUE(nan);
  expectContains(nan->readMxfp4("x.w", {E, K, N}, out.data()), "weight 'x.w_scales' has the NaN scale 0xff at element 5");
}

TEST_F(SafetensorsTest, UnalignedDataAndEmptyTensors) {
  // A 13-byte header puts the data at offset 21, so the floats are not 4-byte aligned.
  std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"e\":{\"dtype\":\"F16\",\"shape\":[3,0],\"data_offsets\":[8,8]}}";
  auto store = open(image(header, f32Bytes({1.5f, -4.0f})));
  ASSERT_TRUE(store);
  std::vector<float> out(2);
  EXPECT_EQ(store->readF32("a", {2}, out.data()), "");
  EXPECT_EQ(out, (std::vector<float>{1.5f, -4.0f}));
  EXPECT_EQ(store->readF32("e", {3, 0}, nullptr), "");
  EXPECT_EQ(store->find("e")->bytes, 0u);
}

// Masks older checkpoints saved as buffers (GPT-NeoX's attention.bias) open, have a byte per element, and are
// never read as floats.
TEST_F(SafetensorsTest, BoolMasksOpenButAreNotFloats) {
  std::string header = "{\"m\":{\"dtype\":\"BOOL\",\"shape\":[1,1,2,2],\"data_offsets\":[0,4]},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  auto store = open(image(header, std::string("\x01\x00\x01\x01", 4) + f32Bytes({2.0f})));
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->find("m"));
  EXPECT_EQ(store->find("m")->type, WeightType::Bool);
  EXPECT_EQ(store->find("m")->bytes, 4u);
  std::vector<float> out(4);
  EXPECT_NE(store->readF32("m", {1, 1, 2, 2}, out.data()).find("weight 'm' is BOOL (a mask), not a float tensor"),
            std::string::npos);
  EXPECT_EQ(store->readF32("w", {1}, out.data()), "");
  EXPECT_EQ(out[0], 2.0f);
}

TEST_F(SafetensorsTest, OverlappingTensorsAreAllowed) {
  std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
  auto store = open(image(header, f32Bytes({1.0f, 2.0f})));
  ASSERT_TRUE(store);
  std::vector<float> out(2);
  EXPECT_EQ(store->readF32("b", {2}, out.data()), "");
  EXPECT_EQ(out, (std::vector<float>{0.0f, 2.0f}));
}

//===----------------------------------------------------------------------===//
// The store's interface
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, FindNamesAndUnused) {
  std::string bytes = image({{"model.norm.weight", "F32", {4}, f32Bytes({1, 2, 3, 4})},
                             {"lm_head.weight", "BF16", {2, 2}, u16Bytes({0x3f80, 0, 0, 0x3f80})},
                             {"model.embed_tokens.weight", "F16", {2, 2}, u16Bytes({0, 0, 0, 0})}},
                            "{\"format\":\"pt\"}");
  auto store = open(bytes);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->names(),
            (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"}));
  EXPECT_EQ(store->find("__metadata__"), nullptr);
  EXPECT_EQ(store->find("model.norm"), nullptr);

  const WeightInfo *head = store->find("lm_head.weight");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->name, "lm_head.weight");
  EXPECT_EQ(head->type, WeightType::BF16);
  EXPECT_EQ(head->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(head->bytes, 8u);
  EXPECT_EQ(head->file, dir + "/model.safetensors");
  EXPECT_EQ(xf::rt::weightTypeName(head->type), "BF16");

  llvm::StringSet<> used;
  used.insert("lm_head.weight");
  used.insert("not.in.the.file");
  EXPECT_EQ(store->unused(used), (std::vector<std::string>{"model.embed_tokens.weight", "model.norm.weight"}));
  used.insert("model.norm.weight");
  used.insert("model.embed_tokens.weight");
  EXPECT_TRUE(store->unused(used).empty());
}

TEST_F(SafetensorsTest, ShapeMismatchAndMissingWeight) {
  std::string name = "model.layers.0.self_attn.q_proj.weight";
  auto store = open(image({{name, "F16", {64, 32}, std::string(64 * 32 * 2, '\0')}}));
  ASSERT_TRUE(store);
  std::vector<float> out(64 * 64);
  std::string file = dir + "/model.safetensors";
  EXPECT_EQ(store->readF32(name, {64, 64}, out.data()),
            file + ": weight 'model.layers.0.self_attn.q_proj.weight' has shape [64, 32] but the model needs [64, 64]");
  EXPECT_EQ(store->readF32(name, {64, 32, 1}, out.data()),
            file + ": weight '" + name + "' has shape [64, 32] but the model needs [64, 32, 1]");
  EXPECT_EQ(store->readF32("lm_head.weight", {64, 64}, out.data()), file + ": missing weight 'lm_head.weight'");
  EXPECT_EQ(store->readF32(name, {64, 32}, out.data()), "");
}

TEST_F(SafetensorsTest, FromBufferNamesTheBuffer) {
  std::string error;
  auto store = WeightStore::fromBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(image({{"x", "F32", {1}, f32Bytes({2.0f})}}), "mem.safetensors"), error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->find("x")->file, "mem.safetensors");
  EXPECT_FALSE(WeightStore::fromBuffer(llvm::MemoryBuffer::getMemBufferCopy("abc", "mem.safetensors"), error));
  EXPECT_EQ(error, "mem.safetensors: file is 3 bytes, too short for the 8-byte header length");
}

TEST_F(SafetensorsTest, HeaderPaddingAndEmptyHeader) {
  auto padded = open(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}      ", f32Bytes({9})));
  ASSERT_TRUE(padded);
  float scalar = 0;
  EXPECT_EQ(padded->readF32("w", {}, &scalar), "");
  EXPECT_EQ(scalar, 9.0f);
  auto empty = open(image("{}"), "empty.safetensors");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->names().empty());
}

//===----------------------------------------------------------------------===//
// Malformed files
//===----------------------------------------------------------------------===//

struct MalformedCase {
  const char *what;
  std::string bytes;
  std::string message; // expected after "<file>: "
};

TEST_F(SafetensorsTest, MalformedFiles) {
  std::string valid = "{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";
  std::string huge(8, '\xff');
  std::vector<MalformedCase> cases = {
      {"empty", "", "file is 0 bytes, too short for the 8-byte header length"},
      {"7 bytes", std::string(7, '\0'), "file is 7 bytes, too short for the 8-byte header length"},
      {"header beyond file", image("{}").substr(0, 9), "header length 2 exceeds the 1 bytes that follow it"},
      {"absurd header", huge + "{}", "header length 18446744073709551615 exceeds the limit of 100000000 bytes"},
      {"101 MB header", std::string("\x40\x23\x05\x06\0\0\0\0", 8) + "{}",
       "header length 101000000 exceeds the limit of 100000000 bytes"},
      {"not JSON", image("{\"w\": "), "header is not valid JSON: "},
      {"not UTF-8", image("{\"\xff\":{}}"), "header is not valid JSON: "},
      {"trailing garbage", image("{} x"), "header is not valid JSON: "},
      {"deep nesting", image(std::string(100, '[') + std::string(100, ']')),
       "header is nested more than 64 levels deep"},
      {"array header", image("[1, 2]"), "header is not a JSON object"},
      {"string header", image("\"F32\""), "header is not a JSON object"},
      {"entry not object", oneEntry("[1, 2]"), "tensor 'w' is not an object"},
      {"no dtype", oneEntry("{\"shape\":[4],\"data_offsets\":[0,16]}"), "tensor 'w' has no string 'dtype'"},
      {"dtype not string", oneEntry("{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}"),
       "tensor 'w' has no string 'dtype'"},
      {"unknown dtype", oneEntry("{\"dtype\":\"Q9\",\"shape\":[4],\"data_offsets\":[0,16]}"),
       "tensor 'w' has dtype 'Q9'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) "
       "are supported"},
      {"I64", oneEntry("{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}", 16, "position_ids"),
       "tensor 'position_ids' has dtype 'I64'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) "
       "are supported"},
      {"F64", oneEntry("{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}"),
       "tensor 'w' has dtype 'F64'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) "
       "are supported"},
      {"I8", oneEntry("{\"dtype\":\"I8\",\"shape\":[16],\"data_offsets\":[0,16]}"),
       "tensor 'w' has dtype 'I8'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) "
       "are supported"},
      {"U8 size", oneEntry("{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,16]}"),
       "tensor 'w' data_offsets [0, 16] hold 16 bytes, but shape [8] of U8 needs 8"},
      {"lowercase dtype", oneEntry("{\"dtype\":\"f32\",\"shape\":[4],\"data_offsets\":[0,16]}"),
       "tensor 'w' has dtype 'f32'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) "
       "are supported"},
      {"no shape", oneEntry("{\"dtype\":\"F32\",\"data_offsets\":[0,16]}"), "tensor 'w' has no 'shape' array"},
      {"shape not array", oneEntry("{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}"),
       "tensor 'w' has no 'shape' array"},
      {"negative shape", oneEntry("{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}"),
       "tensor 'w' has negative shape entry -2"},
      {"fractional shape", oneEntry("{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}"),
       "tensor 'w' has shape entry 2.5, which is not an integer"},
      {"float-typed shape", oneEntry("{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}"),
       "tensor 'w' has shape entry 4, which is not an integer"},
      {"string shape", oneEntry("{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}"),
       "tensor 'w' has shape entry \"4\", which is not an integer"},
      {"shape beyond int64", oneEntry("{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,16]}"),
       "tensor 'w' has too many elements (the element count overflows)"},
      {"element count overflow",
       oneEntry("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}"),
       "tensor 'w' has too many elements (the element count overflows)"},
      {"byte count overflow", oneEntry("{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,16]}"),
       "tensor 'w' has too many elements (the byte count overflows)"},
      {"no offsets", oneEntry("{\"dtype\":\"F32\",\"shape\":[4]}"),
       "tensor 'w' has no 'data_offsets' pair of non-negative integers"},
      {"one offset", oneEntry("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16]}"),
       "tensor 'w' has no 'data_offsets' pair of non-negative integers"},
      {"three offsets", oneEntry("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16,16]}"),
       "tensor 'w' has no 'data_offsets' pair of non-negative integers"},
      {"negative offset", oneEntry("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}"),
       "tensor 'w' has no 'data_offsets' pair of non-negative integers"},
      {"fractional offset", oneEntry("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16.5]}"),
       "tensor 'w' has no 'data_offsets' pair of non-negative integers"},
      {"offsets not array", oneEntry("{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":{\"0\":16}}"),
       "tensor 'w' has no 'data_offsets' pair of non-negative integers"},
      {"begin after end", oneEntry("{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,8]}"),
       "tensor 'w' data_offsets [16, 8] begin after they end"},
      {"end beyond data", oneEntry("{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[0,64]}", 32, "x"),
       "tensor 'x' data_offsets [0, 64] exceed the data section (32 bytes)"},
      {"huge end", oneEntry("{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[18446744073709551615,"
                            "18446744073709551615]}"),
       "tensor 'w' data_offsets [18446744073709551615, 18446744073709551615] exceed the data section (16 bytes)"},
      {"too few bytes", oneEntry("{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,8]}"),
       "tensor 'w' data_offsets [0, 8] hold 8 bytes, but shape [2, 2] of F32 needs 16"},
      {"too many bytes", oneEntry("{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}"),
       "tensor 'w' data_offsets [0, 16] hold 16 bytes, but shape [2, 2] of BF16 needs 8"},
      {"metadata not object", image("{\"__metadata__\":[\"pt\"],\"w\":" + valid + "}", std::string(16, '\0')),
       "__metadata__ is not an object of strings"},
      {"metadata value not string",
       image("{\"__metadata__\":{\"format\":1},\"w\":" + valid + "}", std::string(16, '\0')),
       "__metadata__ is not an object of strings"},
      {"first bad entry in sorted order",
       image("{\"b\":{\"dtype\":\"I8\"},\"a\":{\"dtype\":\"I16\"}}"),
       "tensor 'a' has dtype 'I16'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) "
       "are supported"},
  };
  for (const MalformedCase &c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = write("bad.safetensors", c.bytes);
    std::string error = openError(path);
    EXPECT_EQ(error.substr(0, path.size() + 2 + c.message.size()), path + ": " + c.message);
  }
  // The valid entry is accepted, so each case above fails for the reason it names.
  EXPECT_TRUE(open(oneEntry(valid)));
}

// llvm::json would keep one of two equal keys silently.
TEST_F(SafetensorsTest, DuplicateKeysAreRejected) {
  std::string entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  std::string error = bytesError(image("{\"w\":" + entry + ",\"w\":" + entry + "}", f32Bytes({1})));
  EXPECT_NE(error.find(": header has key 'w' twice"), std::string::npos) << error;
  // Keys are compared as decoded.
  error = bytesError(image("{\"w\":" + entry + ",\"\\u0077\":" + entry + "}", f32Bytes({1})));
  EXPECT_NE(error.find(": header has key 'w' twice"), std::string::npos) << error;
  error = bytesError(image("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                           f32Bytes({1})));
  EXPECT_NE(error.find(": header has key 'dtype' twice"), std::string::npos) << error;
  // Equal keys in different objects, and key-like text inside strings, are fine.
  auto store = open(image("{\"__metadata__\":{\"w\":\"{\\\"w\\\":1,\\\"w\\\":[\\\"]\"},\"w\":" + entry + "}",
                          f32Bytes({1})));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->names(), std::vector<std::string>{"w"});
}

TEST_F(SafetensorsTest, UnopenablePaths) {
  std::string missing = dir + "/nope.safetensors";
  EXPECT_NE(openError(missing).find("cannot open"), std::string::npos);
  std::string empty = dir + "/empty-dir";
  llvm::sys::fs::create_directories(empty);
  EXPECT_EQ(openError(empty),
            empty + ": the directory holds neither model.safetensors nor model.safetensors.index.json");
}

TEST_F(SafetensorsTest, DirectoryWithSingleFile) {
  write("m/model.safetensors", image({{"w", "F32", {1}, f32Bytes({3})}}));
  std::string error;
  auto store = WeightStore::open(dir + "/m", error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->names(), std::vector<std::string>{"w"});
  EXPECT_EQ(store->find("w")->file, dir + "/m/model.safetensors");
  EXPECT_EQ(store->readF32("v", {1}, nullptr), dir + "/m: missing weight 'v'");
  // A bad single file is reported under its own path.
  write("n/model.safetensors", "short");
  openError(dir + "/n", dir + "/n/model.safetensors");
}

//===----------------------------------------------------------------------===//
// Sharded checkpoints
//===----------------------------------------------------------------------===//

std::string indexJson(const std::vector<std::pair<std::string, std::string>> &map) {
  std::string json = "{\"metadata\":{\"total_size\":40},\"weight_map\":{";
  for (size_t i = 0; i < map.size(); ++i)
    json += (i ? "," : "") + ("\"" + map[i].first + "\":\"" + map[i].second + "\"");
  return json + "}}";
}

class ShardedTest : public SafetensorsTest {
protected:
  void SetUp() override {
    SafetensorsTest::SetUp();
    write("ckpt/model-00001-of-00002.safetensors",
          image({{"model.embed_tokens.weight", "BF16", {2, 2}, u16Bytes({0x3f80, 0x4000, 0x4040, 0x4080})},
                 {"model.norm.weight", "F32", {2}, f32Bytes({0.5f, 0.25f})}}));
    write("ckpt/model-00002-of-00002.safetensors",
          image({{"lm_head.weight", "F16", {2, 2}, u16Bytes({0x3c00, 0xbc00, 0x0001, 0x7c00})}}));
  }
  std::vector<std::pair<std::string, std::string>> goodMap() const {
    return {{"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
            {"model.norm.weight", "model-00001-of-00002.safetensors"},
            {"lm_head.weight", "model-00002-of-00002.safetensors"}};
  }
  std::string shard(int i) const { return dir + "/ckpt/model-0000" + std::to_string(i) + "-of-00002.safetensors"; }
  std::string index() const { return dir + "/ckpt/model.safetensors.index.json"; }
};

TEST_F(ShardedTest, TwoShards) {
  write("ckpt/model.safetensors.index.json", indexJson(goodMap()));
  for (const std::string &path : {index(), dir + "/ckpt"}) {
    std::string error;
    auto store = WeightStore::open(path, error);
    ASSERT_TRUE(store) << error;
    EXPECT_EQ(store->names(),
              (std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"}));
    EXPECT_EQ(store->find("model.norm.weight")->file, shard(1));
    EXPECT_EQ(store->find("lm_head.weight")->file, shard(2));
    std::vector<float> out(4);
    EXPECT_EQ(store->readF32("model.embed_tokens.weight", {2, 2}, out.data()), "");
    EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(store->readF32("lm_head.weight", {2, 2}, out.data()), "");
    EXPECT_EQ(out, (std::vector<float>{1, -1, std::ldexp(1.0f, -24), INFINITY}));
    EXPECT_EQ(store->readF32("lm_head.weight", {4}, out.data()),
              shard(2) + ": weight 'lm_head.weight' has shape [2, 2] but the model needs [4]");
    EXPECT_EQ(store->readF32("model.layers.0.mlp.up_proj.weight", {4}, out.data()),
              path + ": missing weight 'model.layers.0.mlp.up_proj.weight'");
    llvm::StringSet<> used;
    used.insert("lm_head.weight");
    EXPECT_EQ(store->unused(used), (std::vector<std::string>{"model.embed_tokens.weight", "model.norm.weight"}));
  }
}

TEST_F(ShardedTest, SingleFileWinsOverIndexInADirectory) {
  write("ckpt/model.safetensors.index.json", "not even JSON");
  write("ckpt/model.safetensors", image({{"only", "F32", {1}, f32Bytes({1})}}));
  std::string error;
  auto store = WeightStore::open(dir + "/ckpt", error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->names(), std::vector<std::string>{"only"});
}

TEST_F(ShardedTest, ListedButAbsentFromItsShard) {
  auto map = goodMap();
  map.push_back({"model.layers.0.mlp.up_proj.weight", "model-00002-of-00002.safetensors"});
  std::string path = write("ckpt/model.safetensors.index.json", indexJson(map));
  EXPECT_EQ(openError(path), path + ": weight_map places tensor 'model.layers.0.mlp.up_proj.weight' in " + shard(2) +
                                 ", which does not contain it");
}

TEST_F(ShardedTest, PresentButMappedElsewhere) {
  auto map = goodMap();
  map[1].second = "model-00002-of-00002.safetensors"; // model.norm.weight is in shard 1
  std::string path = write("ckpt/model.safetensors.index.json", indexJson(map));
  EXPECT_EQ(openError(path), path + ": tensor 'model.norm.weight' is in " + shard(1) + " but weight_map places it in " +
                                 shard(2));
}

TEST_F(ShardedTest, PresentButNotMapped) {
  auto map = goodMap();
  map.erase(map.begin() + 1);
  std::string path = write("ckpt/model.safetensors.index.json", indexJson(map));
  EXPECT_EQ(openError(path), path + ": tensor 'model.norm.weight' is in " + shard(1) + " but not in weight_map");
}

TEST_F(ShardedTest, SameTensorInTwoShards) {
  write("ckpt/model-00002-of-00002.safetensors",
        image({{"lm_head.weight", "F16", {2, 2}, u16Bytes({0, 0, 0, 0})},
               {"model.norm.weight", "F32", {2}, f32Bytes({0, 0})}}));
  std::string path = write("ckpt/model.safetensors.index.json", indexJson(goodMap()));
  EXPECT_EQ(openError(path), path + ": tensor 'model.norm.weight' is in " + shard(2) + " but weight_map places it in " +
                                 shard(1));
}

TEST_F(ShardedTest, ShardPathsAreNormalized) {
  auto map = goodMap();
  map[0].second = "./model-00001-of-00002.safetensors";
  map[2].second = "../ckpt/model-00002-of-00002.safetensors";
  std::string error;
  auto store = WeightStore::open(write("ckpt/model.safetensors.index.json", indexJson(map)), error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->find("model.embed_tokens.weight")->file, shard(1));
  EXPECT_EQ(store->find("lm_head.weight")->file, shard(2));
}

TEST_F(ShardedTest, MissingShardNamesThePath) {
  auto map = goodMap();
  map[2].second = "model-00003-of-00002.safetensors";
  std::string path = write("ckpt/model.safetensors.index.json", indexJson(map));
  std::string missing = dir + "/ckpt/model-00003-of-00002.safetensors";
  EXPECT_NE(openError(path, missing).find(missing + ": cannot open: "), std::string::npos);
}

TEST_F(ShardedTest, MalformedShardNamesTheShard) {
  write("ckpt/model-00002-of-00002.safetensors", oneEntry("{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}"));
  std::string path = write("ckpt/model.safetensors.index.json", indexJson(goodMap()));
  std::string error = openError(path, shard(2));
  EXPECT_NE(error.find("tensor 'w' has dtype 'I64'"), std::string::npos) << error;
}

TEST_F(ShardedTest, MalformedIndex) {
  struct Case {
    std::string json, message;
  } cases[] = {
      {"{\"weight_map\": ", "is not valid JSON: "},
      {std::string(200, '{'), "is nested more than 64 levels deep"},
      {"[]", "has no 'weight_map' object"},
      {"{\"metadata\":{}}", "has no 'weight_map' object"},
      {"{\"weight_map\":[\"model-00001-of-00002.safetensors\"]}", "has no 'weight_map' object"},
      {"{\"weight_map\":{\"lm_head.weight\":2}}", "weight_map entry 'lm_head.weight' is not a file name"},
      {"{\"weight_map\":{\"lm_head.weight\":\"model-00002-of-00002.safetensors\",\"lm_head.weight\":\"x\"}}",
       "has key 'lm_head.weight' twice"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.json);
    std::string path = write("ckpt/model.safetensors.index.json", c.json);
    std::string error = openError(path);
    EXPECT_EQ(error.substr(0, path.size() + 2 + c.message.size()), path + ": " + c.message);
  }
  EXPECT_NE(openError(dir + "/ckpt/other.index.json").find("cannot open"), std::string::npos);
}

} // namespace
