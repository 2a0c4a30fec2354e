//===- Safetensors.cpp - reading model weights from .safetensors files ------===//
//
// Everything a header says is checked before any tensor is handed out: a WeightInfo's data range always
// lies inside its mapped file, and its byte size always equals its element count times the element size.
// Header keys are visited in sorted order so that a file with several problems always reports the same one.
//
//===----------------------------------------------------------------------===//

#include "Safetensors.h"
#include "runtime/src/JsonDepth.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Path.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

using namespace xf::rt;
using llvm::StringRef;

namespace {

// Real headers are a few hundred kilobytes even for thousands of tensors; a larger length is corruption,
// and mapping it would only waste time before the JSON parser fails.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three levels (object, tensor object, shape array); llvm::json parses recursively,
// so deeper input is refused before it can exhaust the stack.
constexpr int kMaxJsonDepth = 64;

constexpr StringRef kMetadataKey = "__metadata__";
constexpr StringRef kSingleFile = "model.safetensors";
constexpr StringRef kIndexFile = "model.safetensors.index.json";

uint64_t elementSize(WeightType type) {
  return type == WeightType::F32 ? 4 : type == WeightType::U8 || type == WeightType::Bool ? 1 : 2;
}

std::optional<WeightType> parseWeightType(StringRef dtype) {
  if (dtype == "F32")
    return WeightType::F32;
  if (dtype == "F16")
    return WeightType::F16;
  if (dtype == "BF16")
    return WeightType::BF16;
  if (dtype == "U8")
    return WeightType::U8;
  if (dtype == "BOOL")
    return WeightType::Bool;
  return std::nullopt;
}

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}


/// The first key that appears twice in one object of `text`, which must be valid JSON. llvm::json keeps
/// one of the two values silently; a tensor listed twice is ambiguous, so it is an error here.
std::optional<std::string> findDuplicateKey(StringRef text) {
  std::vector<std::optional<llvm::StringSet<>>> levels; // the keys seen in each enclosing object; none for arrays
  bool atKey = false;
  for (size_t i = 0; i < text.size(); ++i) {
    switch (text[i]) {
    case '{':
      levels.emplace_back(llvm::StringSet<>());
      atKey = true;
      break;
    case '[':
      levels.emplace_back(std::nullopt);
      atKey = false;
      break;
    case '}':
    case ']':
      if (!levels.empty())
        levels.pop_back();
      atKey = false;
      break;
    case ',':
      atKey = !levels.empty() && levels.back();
      break;
    case '"': {
      size_t end = i + 1;
      while (end < text.size() && text[end] != '"')
        end += text[end] == '\\' ? 2 : 1;
      if (atKey && !levels.empty() && levels.back()) {
        StringRef raw = text.slice(i, end + 1);
        std::string key = raw.drop_front().drop_back().str();
        if (raw.contains('\\')) { // compare keys as decoded, as llvm::json does
          llvm::Expected<llvm::json::Value> decoded = llvm::json::parse(raw);
          if (!decoded)
            llvm::consumeError(decoded.takeError());
          else if (std::optional<StringRef> decodedKey = decoded->getAsString())
            key = decodedKey->str();
        }
        if (!levels.back()->insert(key).second)
          return key;
      }
      i = end;
      atKey = false;
      break;
    }
    default:
      break;
    }
  }
  return std::nullopt;
}

/// Parses `text` as JSON with the depth guard; on failure returns nullopt and sets `problem`.
std::optional<llvm::json::Value> parseJson(StringRef text, std::string &problem) {
  if (xf::jsonDepth(text) > kMaxJsonDepth) {
    problem = "is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep";
    return std::nullopt;
  }
  llvm::Expected<llvm::json::Value> value = llvm::json::parse(text);
  if (!value) {
    problem = "is not valid JSON: " + llvm::toString(value.takeError());
    return std::nullopt;
  }
  if (std::optional<std::string> key = findDuplicateKey(text)) {
    problem = "has key '" + *key + "' twice";
    return std::nullopt;
  }
  return std::move(*value);
}

std::vector<const llvm::json::Object::value_type *> sortedEntries(const llvm::json::Object &object) {
  std::vector<const llvm::json::Object::value_type *> entries;
  for (const auto &entry : object)
    entries.push_back(&entry);
  llvm::sort(entries, [](const auto *a, const auto *b) { return a->first < b->first; });
  return entries;
}

/// Validates the tensor entry `name` -> `value` of a header whose data section has `dataSize` bytes
/// starting at `data`. Returns the problem (without the file name) or nullopt.
std::optional<std::string> parseEntry(StringRef name, const llvm::json::Value &value, const uint8_t *data,
                                      uint64_t dataSize, WeightInfo &info) {
  std::string tensor = "tensor '" + name.str() + "'";
  const llvm::json::Object *entry = value.getAsObject();
  if (!entry)
    return tensor + " is not an object";

  std::optional<StringRef> dtype = entry->getString("dtype");
  if (!dtype)
    return tensor + " has no string 'dtype'";
  std::optional<WeightType> type = parseWeightType(*dtype);
  if (!type)
    return tensor + " has dtype '" + dtype->str() +
           "'; only F32, F16, BF16, U8 (MXFP4 blocks and scales) and BOOL (masks, never read) are supported";

  const llvm::json::Array *shape = entry->getArray("shape");
  if (!shape)
    return tensor + " has no 'shape' array";
  std::vector<int64_t> sizes;
  uint64_t numElements = 1;
  for (const llvm::json::Value &dim : *shape) {
    std::optional<uint64_t> size = dim.getAsUINT64();
    if (!size) {
      std::optional<int64_t> integer = dim.getAsInteger();
      if (integer && *integer < 0)
        return tensor + " has negative shape entry " + std::to_string(*integer);
      return llvm::formatv("{0} has shape entry {1}, which is not an integer", tensor, dim).str();
    }
    if (*size > uint64_t(INT64_MAX) || __builtin_mul_overflow(numElements, *size, &numElements))
      return tensor + " has too many elements (the element count overflows)";
    sizes.push_back(int64_t(*size));
  }
  uint64_t numBytes;
  if (__builtin_mul_overflow(numElements, elementSize(*type), &numBytes))
    return tensor + " has too many elements (the byte count overflows)";

  const llvm::json::Array *offsets = entry->getArray("data_offsets");
  std::optional<uint64_t> begin, end;
  if (offsets && offsets->size() == 2) {
    begin = (*offsets)[0].getAsUINT64();
    end = (*offsets)[1].getAsUINT64();
  }
  if (!begin || !end)
    return tensor + " has no 'data_offsets' pair of non-negative integers";
  std::string range = llvm::formatv("data_offsets [{0}, {1}]", *begin, *end).str();
  if (*begin > *end)
    return tensor + " " + range + " begin after they end";
  if (*end > dataSize)
    return llvm::formatv("{0} {1} exceed the data section ({2} bytes)", tensor, range, dataSize).str();
  if (*end - *begin != numBytes)
    return llvm::formatv("{0} {1} hold {2} bytes, but shape {3} of {4} needs {5}", tensor, range, *end - *begin,
                         shapeString(sizes), *dtype, numBytes)
        .str();

  info.name = name.str();
  info.type = *type;
  info.shape = std::move(sizes);
  info.data = data + *begin;
  info.bytes = numBytes;
  return std::nullopt;
}

/// Validates the safetensors image in `buffer` and appends its tensors to `tensors`. Returns an error
/// message that starts with the buffer's identifier, or "".
std::string parseSafetensors(const llvm::MemoryBuffer &buffer, std::vector<WeightInfo> &tensors) {
  std::string file = buffer.getBufferIdentifier().str();
  auto fail = [&](const llvm::Twine &message) { return file + ": " + message.str(); };
  StringRef bytes = buffer.getBuffer();
  if (bytes.size() < 8)
    return fail(llvm::formatv("file is {0} bytes, too short for the 8-byte header length", bytes.size()));
  uint64_t headerLength = llvm::support::endian::read<uint64_t, llvm::endianness::little>(bytes.data());
  if (headerLength > kMaxHeaderBytes)
    return fail(llvm::formatv("header length {0} exceeds the limit of {1} bytes", headerLength, kMaxHeaderBytes));
  if (headerLength > bytes.size() - 8)
    return fail(llvm::formatv("header length {0} exceeds the {1} bytes that follow it", headerLength,
                              bytes.size() - 8));

  std::string problem;
  std::optional<llvm::json::Value> header = parseJson(bytes.substr(8, headerLength), problem);
  if (!header)
    return fail("header " + problem);
  const llvm::json::Object *object = header->getAsObject();
  if (!object)
    return fail("header is not a JSON object");

  const uint8_t *data = reinterpret_cast<const uint8_t *>(bytes.data()) + 8 + headerLength;
  uint64_t dataSize = bytes.size() - 8 - headerLength;
  for (const auto *entry : sortedEntries(*object)) {
    StringRef name = entry->first;
    if (name == kMetadataKey) {
      const llvm::json::Object *metadata = entry->second.getAsObject();
      if (!metadata || llvm::any_of(*metadata, [](const auto &item) { return !item.second.getAsString(); }))
        return fail("__metadata__ is not an object of strings");
      continue;
    }
    WeightInfo info;
    if (std::optional<std::string> entryProblem = parseEntry(name, entry->second, data, dataSize, info))
      return fail(*entryProblem);
    info.file = file;
    tensors.push_back(std::move(info));
  }
  return "";
}

std::unique_ptr<llvm::MemoryBuffer> mapFile(const std::string &path, std::string &error) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false, /*IsVolatile=*/false);
  if (!buffer) {
    error = path + ": cannot open: " + buffer.getError().message();
    return nullptr;
  }
  return std::move(*buffer);
}

std::string joinPath(StringRef directory, StringRef name) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, name);
  llvm::sys::path::remove_dots(path, /*remove_dot_dot=*/true);
  return path.str().str();
}

} // namespace

llvm::StringRef xf::rt::weightTypeName(WeightType type) {
  switch (type) {
  case WeightType::F32:
    return "F32";
  case WeightType::F16:
    return "F16";
  case WeightType::BF16:
    return "BF16";
  case WeightType::U8:
    return "U8";
  case WeightType::Bool:
    return "BOOL";
  }
  return "?";
}

std::unique_ptr<WeightStore> WeightStore::fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                                     std::string &error) {
  std::unique_ptr<WeightStore> store(new WeightStore());
  store->path = buffer->getBufferIdentifier().str();
  error = store->addFile(std::move(buffer));
  if (!error.empty())
    return nullptr;
  return store;
}

std::string WeightStore::addFile(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  std::vector<WeightInfo> tensors;
  std::string error = parseSafetensors(*buffer, tensors);
  if (!error.empty())
    return error;
  for (WeightInfo &info : tensors) {
    auto [it, inserted] = weights.try_emplace(info.name, info);
    if (!inserted)
      return info.file + ": tensor '" + info.name + "' is also in " + it->second.file;
  }
  files.push_back(std::move(buffer));
  return "";
}

std::string WeightStore::openIndex(const std::string &indexPath) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> indexBuffer = mapFile(indexPath, error);
  if (!indexBuffer)
    return error;
  auto fail = [&](const llvm::Twine &message) { return indexPath + ": " + message.str(); };
  std::string problem;
  std::optional<llvm::json::Value> index = parseJson(indexBuffer->getBuffer(), problem);
  if (!index)
    return fail(problem);
  const llvm::json::Object *root = index->getAsObject();
  const llvm::json::Object *weightMap = root ? root->getObject("weight_map") : nullptr;
  if (!weightMap)
    return fail("has no 'weight_map' object: not a sharded checkpoint's index (weights are a .safetensors "
                "file, a model.safetensors.index.json, or the folder holding either)");

  // Shard path -> the tensors the index places there, both sorted for deterministic messages.
  StringRef directory = llvm::sys::path::parent_path(indexPath);
  std::map<std::string, std::vector<std::string>> shards;
  llvm::StringMap<std::string> shardOf;
  for (const auto *entry : sortedEntries(*weightMap)) {
    std::optional<StringRef> shard = entry->second.getAsString();
    if (!shard)
      return fail("weight_map entry '" + StringRef(entry->first) + "' is not a file name");
    std::string shardPath = joinPath(directory, *shard);
    shards[shardPath].push_back(entry->first.str());
    shardOf[entry->first] = shardPath;
  }

  for (const auto &[shardPath, expected] : shards) {
    std::unique_ptr<llvm::MemoryBuffer> buffer = mapFile(shardPath, error);
    if (!buffer)
      return error;
    std::vector<WeightInfo> tensors;
    error = parseSafetensors(*buffer, tensors);
    if (!error.empty())
      return error;
    llvm::StringSet<> present;
    for (WeightInfo &info : tensors) {
      auto mapped = shardOf.find(info.name);
      if (mapped == shardOf.end())
        return fail("tensor '" + info.name + "' is in " + shardPath + " but not in weight_map");
      if (mapped->second != shardPath)
        return fail("tensor '" + info.name + "' is in " + shardPath + " but weight_map places it in " +
                    mapped->second);
      present.insert(info.name);
      weights.try_emplace(info.name, std::move(info)); // unique: each name maps to this one shard
    }
    for (const std::string &name : expected)
      if (!present.contains(name))
        return fail("weight_map places tensor '" + name + "' in " + shardPath + ", which does not contain it");
    files.push_back(std::move(buffer));
  }
  return "";
}

std::unique_ptr<WeightStore> WeightStore::open(const std::string &path, std::string &error) {
  std::unique_ptr<WeightStore> store(new WeightStore());
  store->path = path;
  if (llvm::sys::fs::is_directory(path)) {
    std::string single = joinPath(path, kSingleFile), index = joinPath(path, kIndexFile);
    if (llvm::sys::fs::exists(single)) {
      if (std::unique_ptr<llvm::MemoryBuffer> buffer = mapFile(single, error))
        error = store->addFile(std::move(buffer));
    } else if (llvm::sys::fs::exists(index)) {
      error = store->openIndex(index);
    } else {
      error = path + ": the directory holds neither " + kSingleFile.str() + " nor " + kIndexFile.str();
    }
  } else if (StringRef(path).ends_with(".json")) {
    error = store->openIndex(path);
  } else if (std::unique_ptr<llvm::MemoryBuffer> buffer = mapFile(path, error)) {
    error = store->addFile(std::move(buffer));
  }
  if (!error.empty())
    return nullptr;
  return store;
}

void WeightStore::mapPrefixes(std::vector<std::pair<std::string, std::string>> pairs) { prefixes = std::move(pairs); }

std::string WeightStore::storedName(llvm::StringRef name) const {
  for (const auto &[from, to] : prefixes)
    if (name.starts_with(from))
      return to + name.drop_front(from.size()).str();
  return name.str();
}

const WeightInfo *WeightStore::find(llvm::StringRef name) const {
  if (!prefixes.empty()) {
    std::string stored = storedName(name);
    if (llvm::none_of(prefixes, [&](const auto &pair) { return StringRef(stored).starts_with(pair.second); }))
      return nullptr;
    auto it = weights.find(stored);
    return it == weights.end() ? nullptr : &it->second;
  }
  auto it = weights.find(name);
  return it == weights.end() ? nullptr : &it->second;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> result;
  result.reserve(weights.size());
  for (const auto &entry : weights)
    result.push_back(entry.getKey().str());
  llvm::sort(result);
  return result;
}

uint64_t WeightStore::totalBytes() const {
  uint64_t total = 0;
  for (const auto &entry : weights)
    if (prefixes.empty() ||
        llvm::any_of(prefixes, [&](const auto &pair) { return entry.getKey().starts_with(pair.second); }))
      total += entry.getValue().bytes;
  return total;
}

std::vector<std::string> WeightStore::unused(const llvm::StringSet<> &used) const {
  std::vector<std::string> result;
  for (const auto &entry : weights) {
    StringRef stored = entry.getKey();
    if (prefixes.empty()) {
      if (!used.contains(stored))
        result.push_back(stored.str());
      continue;
    }
    // The name the model asks for; tensors of the other towers are not the model's.
    for (const auto &[from, to] : prefixes)
      if (stored.starts_with(to)) {
        if (!used.contains(from + stored.drop_front(to.size()).str()))
          result.push_back(stored.str());
        break;
      }
  }
  llvm::sort(result);
  return result;
}

namespace {

void halvesToFloatsScalar(const uint8_t *source, float *dst, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i)
    dst[i] = halfToFloat(llvm::support::endian::read<uint16_t, llvm::endianness::little>(source + 2 * i));
}

#if defined(__x86_64__)
/// F16C's vcvtph2ps, 8 halves at a time: exact, as halfToFloat, except that it quiets signaling NaNs, so a
/// group holding an infinity or NaN exponent takes the scalar path and keeps its payloads bit for bit.
__attribute__((target("avx,f16c"))) void halvesToFloatsF16C(const uint8_t *source, float *dst, uint64_t count) {
  const __m128i exponent = _mm_set1_epi16(0x7c00);
  uint64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i *>(source + 2 * i));
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(halves, exponent), exponent)))
      halvesToFloatsScalar(source + 2 * i, dst + i, 8);
    else
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(halves));
  }
  halvesToFloatsScalar(source + 2 * i, dst + i, count - i);
}
#endif

/// Little-endian IEEE halves to floats, exactly (halfToFloat's bits).
void halvesToFloats(const uint8_t *source, float *dst, uint64_t count) {
#if defined(__x86_64__)
  static const bool f16c = __builtin_cpu_supports("f16c");
  if (f16c)
    return halvesToFloatsF16C(source, dst, count);
#endif
  halvesToFloatsScalar(source, dst, count);
}

} // namespace

std::string WeightStore::checkFloat(llvm::StringRef name, llvm::ArrayRef<int64_t> expectedShape,
                                    const WeightInfo *&info) const {
  info = find(name);
  if (!info)
    return path + ": missing weight '" + storedName(name) + "'";
  if (llvm::ArrayRef<int64_t>(info->shape) != expectedShape)
    return info->file + ": weight '" + info->name + "' has shape " + shapeString(info->shape) +
           " but the model needs " + shapeString(expectedShape);
  if (info->type == WeightType::U8)
    return info->file + ": weight '" + info->name + "' is U8 (packed data), not a float tensor";
  if (info->type == WeightType::Bool)
    return info->file + ": weight '" + info->name + "' is BOOL (a mask), not a float tensor";
  return "";
}

std::string WeightStore::readF32(llvm::StringRef name, llvm::ArrayRef<int64_t> expectedShape, float *dst) const {
  const WeightInfo *info = nullptr;
  if (std::string error = checkFloat(name, expectedShape, info); !error.empty())
    return error;
  uint64_t count = info->bytes / elementSize(info->type);
  if (count != 0 && !dst)
    return info->file + ": weight '" + info->name + "' cannot be read into a null buffer";
  const uint8_t *source = info->data;
  using llvm::support::endian::read;
  switch (info->type) {
  case WeightType::F32:
    if constexpr (llvm::endianness::native == llvm::endianness::little) {
      if (count != 0)
        std::memcpy(dst, source, count * sizeof(float));
    } else {
      for (uint64_t i = 0; i < count; ++i)
        dst[i] = read<float, llvm::endianness::little>(source + 4 * i);
    }
    return "";
  case WeightType::F16:
    halvesToFloats(source, dst, count);
    return "";
  case WeightType::BF16:
    for (uint64_t i = 0; i < count; ++i)
      dst[i] = bfloat16ToFloat(read<uint16_t, llvm::endianness::little>(source + 2 * i));
    return "";
  case WeightType::U8:
  case WeightType::Bool:
    break;
  }
  return info->file + ": weight '" + info->name + "' has unsupported dtype " + weightTypeName(info->type).str();
}

std::string WeightStore::findMxfp4(llvm::StringRef prefix, llvm::ArrayRef<int64_t> expectedShape,
                                   const WeightInfo *&blocks, const WeightInfo *&scales) const {
  const std::string blocksName = (prefix + "_blocks").str(), scalesName = (prefix + "_scales").str();
  blocks = find(blocksName);
  scales = find(scalesName);
  if (!blocks || !scales)
    return path + ": missing weight '" + storedName(blocks ? scalesName : blocksName) + "' (MXFP4 '" + prefix.str() +
           "' needs both _blocks and _scales)";
  for (const WeightInfo *info : {blocks, scales})
    if (info->type != WeightType::U8)
      return info->file + ": weight '" + info->name + "' has dtype " + weightTypeName(info->type).str() +
             "; MXFP4 blocks and scales are U8";
  if (expectedShape.size() != 3 || expectedShape[1] % 32 != 0)
    return path + ": MXFP4 weight '" + prefix.str() + "' must be [E, K, N] with K a multiple of 32, not " +
           shapeString(expectedShape);
  const int64_t E = expectedShape[0], K = expectedShape[1], N = expectedShape[2], G = K / 32;
  const std::vector<int64_t> blocksShape = {E, N, G, 16}, scalesShape = {E, N, G};
  if (blocks->shape != blocksShape)
    return blocks->file + ": weight '" + blocksName + "' has shape " + shapeString(blocks->shape) +
           " but the model needs " + shapeString(blocksShape) + " (MXFP4 of " + shapeString(expectedShape) + ")";
  if (scales->shape != scalesShape)
    return scales->file + ": weight '" + scalesName + "' has shape " + shapeString(scales->shape) +
           " but the model needs " + shapeString(scalesShape) + " (MXFP4 of " + shapeString(expectedShape) + ")";
  // E8M0 reserves 0xff for NaN: no weight of a published checkpoint has it.
  if (const uint8_t *nan = std::find(scales->data, scales->data + scales->bytes, uint8_t(0xff));
      nan != scales->data + scales->bytes)
    return scales->file + ": weight '" + scalesName + "' has the NaN scale 0xff at element " +
           std::to_string(nan - scales->data);
  return "";
}

std::string WeightStore::readMxfp4(llvm::StringRef prefix, llvm::ArrayRef<int64_t> expectedShape, float *dst) const {
  const WeightInfo *blocks = nullptr, *scales = nullptr;
  if (std::string error = findMxfp4(prefix, expectedShape, blocks, scales); !error.empty())
    return error;
  const int64_t E = expectedShape[0], K = expectedShape[1], N = expectedShape[2], G = K / 32;
  if (!dst)
    return path + ": MXFP4 weight '" + prefix.str() + "' cannot be read into a null buffer";
  // e2m1: sign, 2 exponent bits, 1 mantissa bit.
  static constexpr float kValues[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  // Rows of 16 outputs at a time: dequantized along k, then written transposed, 16 contiguous floats per k.
  // Experts are split over the cores (a whole gpt-oss-20b dequantizes 19 G weights).
  constexpr int64_t kRows = 16;
  // value * 2^(s - 127) is exact in float, subnormals included (s = 255, NaN, was refused; s = 254 times 6
  // overflows to infinity, as the exact value would round).
  float scaleOf[256];
  for (int s = 0; s < 256; ++s)
    scaleOf[s] = std::ldexp(1.0f, s - 127);
  auto experts = [&](int64_t e0, int64_t e1) {
    std::vector<float> rows(static_cast<size_t>(kRows * K));
    for (int64_t e = e0; e < e1; ++e)
      for (int64_t n0 = 0; n0 < N; n0 += kRows) {
        const int64_t count = std::min(kRows, N - n0);
        for (int64_t i = 0; i < count; ++i)
          for (int64_t g = 0; g < G; ++g) {
            const int64_t group = (e * N + n0 + i) * G + g;
            const float scale = scaleOf[scales->data[group]];
            const uint8_t *bytes = blocks->data + group * 16;
            float *row = rows.data() + i * K + g * 32;
            for (int64_t b = 0; b < 16; ++b) {
              row[2 * b] = kValues[bytes[b] & 0xf] * scale;
              row[2 * b + 1] = kValues[bytes[b] >> 4] * scale;
            }
          }
        for (int64_t k = 0; k < K; ++k)
          for (int64_t i = 0; i < count; ++i)
            dst[(e * K + k) * N + n0 + i] = rows[static_cast<size_t>(i * K + k)]; // element k of row n: [e][k][n]
      }
  };
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(E, std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int64_t t = 1; t < threads; ++t)
    workers.emplace_back(experts, t * E / threads, (t + 1) * E / threads);
  experts(0, E / threads);
  for (std::thread &worker : workers)
    worker.join();
  return "";
}
