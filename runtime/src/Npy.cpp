//===- Npy.cpp - reading and writing float32 .npy files ---------------------===//
//
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html. The header is a Python
// dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, parsed here by a small
// scanner for exactly the value forms NumPy writes (strings, True/False, tuples of integers).
//
//===----------------------------------------------------------------------===//

#include "Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <optional>

using namespace xf::npy;

namespace {

constexpr llvm::StringLiteral kMagic("\x93NUMPY");
constexpr llvm::StringLiteral kFloat32Descr("<f4");
// NumPy pads headers so that data starts at a multiple of 64 bytes, which keeps mapped data aligned.
constexpr size_t kHeaderAlignment = 64;

/// The fields of a .npy header dict that matter here.
struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortranOrder;
  std::optional<std::vector<int64_t>> shape;
};

/// Scans the header dict. Returns an error description (without the file name) or nullopt.
class HeaderScanner {
public:
  explicit HeaderScanner(llvm::StringRef text) : rest(text) {}

  std::optional<std::string> scan(Header &header) {
    skipSpace();
    if (!rest.consume_front("{"))
      return "header is not a dict";
    for (;;) {
      skipSpace();
      if (rest.consume_front("}"))
        return std::nullopt;
      std::optional<std::string> key = scanString();
      if (!key)
        return "header has a malformed key";
      skipSpace();
      if (!rest.consume_front(":"))
        return "header key '" + *key + "' is not followed by ':'";
      skipSpace();
      std::optional<std::string> problem = scanValue(*key, header);
      if (problem)
        return problem;
      skipSpace();
      if (!rest.consume_front(",")) {
        skipSpace();
        if (!rest.starts_with("}"))
          return "header dict is malformed after key '" + *key + "'";
      }
    }
  }

private:
  void skipSpace() { rest = rest.ltrim(" \t\r\n"); }

  std::optional<std::string> scanString() {
    if (rest.empty() || (rest.front() != '\'' && rest.front() != '"'))
      return std::nullopt;
    char quote = rest.front();
    size_t close = rest.find(quote, 1);
    if (close == llvm::StringRef::npos)
      return std::nullopt;
    std::string value = rest.slice(1, close).str();
    rest = rest.drop_front(close + 1);
    return value;
  }

  std::optional<std::string> scanValue(const std::string &key, Header &header) {
    if (rest.starts_with("'") || rest.starts_with("\"")) {
      std::optional<std::string> value = scanString();
      if (!value)
        return "header value of '" + key + "' is an unterminated string";
      if (key == "descr")
        header.descr = std::move(*value);
      return std::nullopt;
    }
    bool isTrue = rest.consume_front("True");
    if (isTrue || rest.consume_front("False")) {
      if (key == "fortran_order")
        header.fortranOrder = isTrue;
      return std::nullopt;
    }
    if (rest.consume_front("(")) {
      std::vector<int64_t> sizes;
      for (;;) {
        skipSpace();
        if (rest.consume_front(")"))
          break;
        size_t digits = rest.find_first_not_of("0123456789");
        int64_t size;
        if (digits == 0 || rest.take_front(digits).getAsInteger(10, size))
          return "header value of '" + key + "' is not a tuple of non-negative integers";
        sizes.push_back(size);
        rest = rest.drop_front(digits);
        rest.consume_front("L"); // Python 2 long literals
        skipSpace();
        if (!rest.consume_front(",") && !rest.starts_with(")"))
          return "header value of '" + key + "' is a malformed tuple";
      }
      if (key == "shape")
        header.shape = std::move(sizes);
      return std::nullopt;
    }
    return "header value of '" + key + "' has an unsupported form";
  }

  llvm::StringRef rest;
};

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

} // namespace

ReadResult xf::npy::parse(const void *bytes, size_t size, const std::string &name) {
  ReadResult result;
  auto fail = [&](const llvm::Twine &message) {
    result.error = name + ": " + message.str();
    return std::move(result);
  };
  llvm::StringRef file(static_cast<const char *>(bytes), size);
  if (!file.starts_with(kMagic))
    return fail("not a .npy file (bad magic)");
  if (file.size() < kMagic.size() + 2)
    return fail("truncated .npy header");
  unsigned major = static_cast<unsigned char>(file[6]), minor = static_cast<unsigned char>(file[7]);
  size_t lengthFieldSize;
  if (major == 1)
    lengthFieldSize = 2;
  else if (major == 2 || major == 3)
    lengthFieldSize = 4;
  else
    return fail(llvm::formatv(".npy version {0}.{1} is not supported (expected 1.0, 2.0 or 3.0)", major, minor));
  size_t headerStart = 8 + lengthFieldSize;
  if (file.size() < headerStart)
    return fail("truncated .npy header");
  const char *lengthField = file.data() + 8;
  uint64_t headerLength =
      lengthFieldSize == 2
          ? llvm::support::endian::read<uint16_t, llvm::endianness::little>(lengthField)
          : llvm::support::endian::read<uint32_t, llvm::endianness::little>(lengthField);
  if (file.size() - headerStart < headerLength)
    return fail("truncated .npy header");

  Header header;
  if (std::optional<std::string> problem =
          HeaderScanner(file.substr(headerStart, headerLength)).scan(header))
    return fail(*problem);
  if (!header.descr || !header.fortranOrder || !header.shape)
    return fail("header lacks one of 'descr', 'fortran_order', 'shape'");
  if (*header.descr != kFloat32Descr)
    return fail("dtype '" + *header.descr + "' is not supported, expected '<f4' (float32)");
  if (*header.fortranOrder)
    return fail("Fortran-order arrays are not supported, expected C order (fortran_order: False)");
  const std::vector<int64_t> &shape = *header.shape;
  if (shape.size() > kMaxRank)
    return fail(llvm::formatv("rank {0} exceeds the maximum of {1}", shape.size(), kMaxRank));

  uint64_t numElements = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && numElements > (uint64_t(INT64_MAX) / sizeof(float)) / uint64_t(dim))
      return fail("shape " + shapeString(shape) + " is too large");
    numElements *= uint64_t(dim);
  }
  uint64_t dataBytes = numElements * sizeof(float);
  uint64_t available = file.size() - headerStart - headerLength;
  if (available < dataBytes)
    return fail(llvm::formatv("truncated: shape {0} needs {1} bytes of data, the file has {2}", shapeString(shape),
                              dataBytes, available));

  result.array.shape = shape;
  result.array.data.resize(numElements);
  const char *source = file.data() + headerStart + headerLength;
  if constexpr (llvm::endianness::native == llvm::endianness::little) {
    if (dataBytes != 0) // an empty vector's data() may be NULL, which memcpy does not allow
      std::memcpy(result.array.data.data(), source, dataBytes);
  } else {
    for (uint64_t i = 0; i < numElements; ++i)
      result.array.data[i] = llvm::support::endian::read<float, llvm::endianness::little>(source + 4 * i);
  }
  return result;
}

ReadResult xf::npy::read(const std::string &path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer) {
    ReadResult result;
    result.error = path + ": cannot read: " + buffer.getError().message();
    return result;
  }
  return parse((*buffer)->getBufferStart(), (*buffer)->getBufferSize(), path);
}

std::string xf::npy::write(const std::string &path, const float *data, const std::vector<int64_t> &shape) {
  if (shape.size() > kMaxRank)
    return path + ": rank " + std::to_string(shape.size()) + " exceeds the maximum of " + std::to_string(kMaxRank);
  uint64_t numElements = 1;
  for (int64_t dim : shape) {
    if (dim < 0)
      return path + ": cannot write shape " + shapeString(shape) + " (negative size)";
    numElements *= uint64_t(dim);
  }
  if (!data && numElements != 0)
    return path + ": cannot write: no data";

  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeString(shape) + ", }";
  size_t unpadded = kMagic.size() + 2 + 2 + header.size() + 1; // magic, version, length, dict, '\n'
  header.append((kHeaderAlignment - unpadded % kHeaderAlignment) % kHeaderAlignment, ' ');
  header += '\n';

  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return path + ": cannot write: " + ec.message();
  out << kMagic << '\x01' << '\x00';
  char length[2];
  llvm::support::endian::write<uint16_t, llvm::endianness::little>(length, header.size());
  out.write(length, sizeof(length));
  out << header;
  if constexpr (llvm::endianness::native == llvm::endianness::little) {
    if (numElements != 0)
      out.write(reinterpret_cast<const char *>(data), numElements * sizeof(float));
  } else {
    for (uint64_t i = 0; i < numElements; ++i) {
      char bytes[4];
      llvm::support::endian::write<float, llvm::endianness::little>(bytes, data[i]);
      out.write(bytes, sizeof(bytes));
    }
  }
  out.close();
  if (out.has_error()) {
    std::string message = path + ": cannot write: " + out.error().message();
    out.clear_error();
    return message;
  }
  return "";
}
