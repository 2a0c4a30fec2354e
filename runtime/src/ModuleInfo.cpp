//===- ModuleInfo.cpp - parsing and checking xf_module_info ----------------===//

#include "ModuleInfo.h"

#include "xfrt.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <charconv>

using namespace xf::rt;
namespace json = llvm::json;

const OperandInfo *KernelInfo::findOperand(llvm::StringRef operandName) const {
  int64_t index = operandIndex(operandName);
  return index < 0 ? nullptr : &operands[index];
}

int64_t KernelInfo::operandIndex(llvm::StringRef operandName) const {
  for (size_t i = 0; i < operands.size(); ++i)
    if (operands[i].name == operandName)
      return static_cast<int64_t>(i);
  return -1;
}

const KernelAttribute *KernelInfo::findAttribute(llvm::StringRef attributeName) const {
  for (const KernelAttribute &attribute : attributes)
    if (attribute.name == attributeName)
      return &attribute;
  return nullptr;
}

std::optional<int64_t> KernelInfo::integerAttribute(llvm::StringRef attributeName) const {
  const KernelAttribute *attribute = findAttribute(attributeName);
  int64_t value;
  if (!attribute || llvm::StringRef(attribute->json).getAsInteger(10, value))
    return std::nullopt;
  return value;
}

std::optional<bool> KernelInfo::boolAttribute(llvm::StringRef attributeName) const {
  const KernelAttribute *attribute = findAttribute(attributeName);
  if (!attribute || (attribute->json != "true" && attribute->json != "false"))
    return std::nullopt;
  return attribute->json == "true";
}

llvm::ArrayRef<AttributeFixedDim> xf::rt::attentionAttributeFixedDims() {
  static const AttributeFixedDim fixedDims[] = {
      {"query", 1, "num_heads"},    {"query", 3, "head_dim"},     {"key", 1, "num_kv_heads"},
      {"key", 3, "head_dim"},       {"value", 1, "num_kv_heads"}, {"value", 3, "head_dim_v"},
      {"output", 1, "num_heads"},   {"output", 3, "head_dim_v"}};
  return fixedDims;
}

namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// JSON spelling of an attribute value. Doubles use the shortest round-tripping form (llvm::json would
/// print 17 significant digits, e.g. 0.088388347648318447 for 0.08838834764831845).
std::string spellJSON(const json::Value &value) {
  if (value.kind() == json::Value::Number && !value.getAsInteger()) {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), *value.getAsNumber());
    if (ec == std::errc())
      return std::string(buffer, end);
  }
  return llvm::formatv("{0}", value).str();
}

llvm::Expected<std::string> requireString(const json::Object &object, llvm::StringRef key,
                                          const llvm::Twine &where) {
  const json::Value *value = object.get(key);
  if (!value)
    return error(where + ": missing key '" + key + "'");
  std::optional<llvm::StringRef> string = value->getAsString();
  if (!string || string->empty())
    return error(where + ": key '" + key + "' must be a non-empty string");
  return string->str();
}

llvm::Expected<OperandInfo> parseOperand(const json::Value &value, const llvm::Twine &where) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return error(where + " must be an object");
  OperandInfo operand;
  llvm::Expected<std::string> name = requireString(*object, "name", where);
  if (!name)
    return name.takeError();
  operand.name = std::move(*name);

  const json::Array *shape = object->getArray("shape");
  if (!shape)
    return error(where + " ('" + operand.name + "'): missing array 'shape'");
  if (shape->size() > XFRT_MAX_RANK)
    return error(llvm::formatv("{0} ('{1}'): rank {2} exceeds the maximum of {3}", where, operand.name,
                               shape->size(), XFRT_MAX_RANK));
  for (const json::Value &dim : *shape) {
    std::optional<int64_t> size = dim.getAsInteger();
    if (!size || *size < kDynamicDim)
      return error(where + " ('" + operand.name + "'): shape entries must be integers >= 0, or -1 (dynamic)");
    operand.shape.push_back(*size);
  }
  if (const json::Value *dtype = object->get("dtype")) {
    std::optional<llvm::StringRef> spelled = dtype->getAsString();
    if (spelled == "bf16")
      operand.dtype = XFRT_BF16;
    else if (spelled == "f16")
      operand.dtype = XFRT_F16;
    else if (spelled != "f32")
      return error(where + " ('" + operand.name + "'): 'dtype' must be \"f32\", \"bf16\" or \"f16\"");
  }
  return operand;
}

/// The attention kernel's operand layout and attributes are what the runtime relies on to check calls and
/// size outputs, so an inconsistent description is rejected when the module is opened, not on first use.
llvm::Error checkAttentionKernel(const KernelInfo &kernel, const llvm::Twine &where) {
  for (llvm::StringRef name : {"num_heads", "num_kv_heads", "head_dim", "head_dim_v"}) {
    std::optional<int64_t> value = kernel.integerAttribute(name);
    if (!value || *value <= 0)
      return error(where + ": attention kernel needs a positive integer '" + name + "'");
  }
  if (!kernel.boolAttribute("causal"))
    return error(where + ": attention kernel needs a boolean 'causal'");
  int64_t numHeads = *kernel.integerAttribute("num_heads");
  int64_t numKvHeads = *kernel.integerAttribute("num_kv_heads");
  if (numHeads % numKvHeads != 0)
    return error(llvm::formatv("{0}: num_kv_heads ({1}) must divide num_heads ({2})", where, numKvHeads, numHeads));

  for (const char *name : {"query", "key", "value", "output"}) {
    const OperandInfo *operand = kernel.findOperand(name);
    if (!operand)
      return error(where + ": attention kernel has no operand '" + name + "'");
    if (operand->shape.size() != 4)
      return error(llvm::formatv("{0}: operand '{1}' has rank {2}, attention operands have rank 4", where, name,
                                 operand->shape.size()));
  }
  if (kernel.operands.back().name != "output")
    return error(where + ": the last operand of an attention kernel must be 'output'");
  for (const AttributeFixedDim &fixed : attentionAttributeFixedDims()) {
    int64_t declared = kernel.findOperand(fixed.operand)->shape[fixed.dim];
    int64_t expected = *kernel.integerAttribute(fixed.attribute);
    if (declared != kDynamicDim && declared != expected)
      return error(llvm::formatv("{0}: operand '{1}' dim {2} is {3} but {4} is {5}", where, fixed.operand,
                                 fixed.dim, declared, fixed.attribute, expected));
  }
  return llvm::Error::success();
}

llvm::Expected<GpuLaunchInfo> parseGpuLaunch(const json::Value &value, const std::vector<OperandInfo> &operands,
                                             const std::string &where) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return error(where + ": 'gpu' must be an object");
  GpuLaunchInfo launch;
  // A vulkan kernel has one SPIR-V binary; a cuda kernel has PTX images ("ptx") instead.
  const json::Value *ptx = object->get("ptx");
  for (auto [key, field] : {std::pair{"binary", &launch.binarySymbol}, std::pair{"entry", &launch.entryPoint}}) {
    if (ptx && field == &launch.binarySymbol)
      continue;
    llvm::Expected<std::string> string = requireString(*object, key, where + ": gpu");
    if (!string)
      return string.takeError();
    *field = std::move(*string);
  }
  std::optional<int64_t> size = object->getInteger("binary_size");
  std::optional<int64_t> workgroup = object->getInteger("workgroup_size");
  if (!ptx && (!size || *size <= 0 || *size % 4))
    return error(where + ": gpu: 'binary_size' must be a positive multiple of 4");
  if (ptx) {
    const json::Array *images = ptx->getAsArray();
    if (!images || images->empty())
      return error(where + ": gpu: 'ptx' must be a non-empty array of {arch, symbol, size}");
    for (const json::Value &entry : *images) {
      const json::Object *image = entry.getAsObject();
      std::optional<int64_t> arch = image ? image->getInteger("arch") : std::nullopt;
      std::optional<llvm::StringRef> symbol = image ? image->getString("symbol") : std::nullopt;
      std::optional<int64_t> bytes = image ? image->getInteger("size") : std::nullopt;
      if (!arch || *arch <= 0 || !symbol || symbol->empty() || !bytes || *bytes <= 0)
        return error(where + ": gpu: every 'ptx' image must be {arch: N > 0, symbol: NAME, size: N > 0}");
      launch.ptx.push_back({*arch, symbol->str(), *bytes});
    }
    llvm::sort(launch.ptx, [](const PtxImage &a, const PtxImage &b) { return a.arch < b.arch; });
  } else {
    launch.binarySize = *size;
  }
  if (!workgroup || *workgroup <= 0 || *workgroup > 1024)
    return error(where + ": gpu: 'workgroup_size' must be in [1, 1024]");
  launch.workgroupSize = *workgroup;
  if (const json::Value *lanes = object->get("subgroup_lanes")) {
    std::optional<int64_t> n = lanes->getAsInteger();
    if (!n || *n < 2 || *n > *workgroup || (*n & (*n - 1)) || *workgroup % *n)
      return error(where + ": gpu: 'subgroup_lanes' must be a power of two of at least 2 that divides 'workgroup_size'");
    launch.subgroupLanes = *n;
  }
  launch.subgroupRows = object->getInteger("subgroup_rows").value_or(0);
  // Modules from before the split combine named it for any barrier, which then sat only in loops.
  launch.barrierLoops = object->getInteger("barrier_loops").value_or(0) != 0 ||
                        object->getInteger("workgroup_barriers").value_or(0) != 0;
  if (const json::Value *bytes = object->get("workgroup_memory")) {
    std::optional<int64_t> n = bytes->getAsInteger();
    if (!n || *n < 0)
      return error(where + ": gpu: 'workgroup_memory' must be a non-negative integer");
    launch.workgroupMemory = *n;
  }
  if (const json::Value *words = object->get("scratch_words_per_item")) {
    std::optional<int64_t> n = words->getAsInteger();
    if (!n || *n <= 0 || !ptx)
      return error(where + ": gpu: 'scratch_words_per_item' must be a positive integer, on a cuda kernel");
    launch.scratchWordsPerItem = *n;
    std::optional<int64_t> zeroed = object->getInteger("scratch_zeroed_words_per_item");
    if (!zeroed || *zeroed < 0 || *zeroed > *n)
      return error(where +
                   ": gpu: 'scratch_zeroed_words_per_item' must be an integer in [0, scratch_words_per_item]");
    launch.scratchZeroedWordsPerItem = *zeroed;
  }
  const json::Array *slots = object->getArray("push_constants");
  if (!slots)
    return error(where + ": gpu: missing array 'push_constants'");
  auto operandDims = [&](const json::Array &list, llvm::StringRef what,
                         std::vector<std::pair<int64_t, int64_t>> &out) -> llvm::Error {
    for (const json::Value &slot : list) {
      const json::Array *pair = slot.getAsArray();
      std::optional<int64_t> operand = pair && pair->size() == 2 ? (*pair)[0].getAsInteger() : std::nullopt;
      std::optional<int64_t> dim = pair && pair->size() == 2 ? (*pair)[1].getAsInteger() : std::nullopt;
      if (!operand || !dim || *operand < 0 || *operand >= static_cast<int64_t>(operands.size()) || *dim < 0 ||
          *dim >= static_cast<int64_t>(operands[*operand].shape.size()))
        return error(where + ": gpu: " + what + " must be [operand, dimension] pairs naming an operand dimension");
      out.push_back({*operand, *dim});
    }
    return llvm::Error::success();
  };
  if (llvm::Error err = operandDims(*slots, "push constants", launch.pushConstants))
    return std::move(err);
  if (const json::Value *pitches = object->get("pitches")) {
    const json::Array *list = pitches->getAsArray();
    if (!list)
      return error(where + ": gpu: 'pitches' must be an array");
    if (llvm::Error err = operandDims(*list, "pitches", launch.pitches))
      return std::move(err);
    // A pitch stands for a dimension's extent in memory: only a dynamic one past the first can have one.
    for (auto [operand, dim] : launch.pitches)
      if (dim == 0 || operands[operand].shape[dim] != kDynamicDim)
        return error(llvm::formatv("{0}: gpu: pitch of operand {1} dim {2}: only a dynamic dimension past the "
                                   "first can be pitched",
                                   where, operand, dim)
                         .str());
  }
  return launch;
}

llvm::Expected<KernelInfo> parseKernel(const json::Value &value, size_t index) {
  std::string where = llvm::formatv("kernels[{0}]", index).str();
  const json::Object *object = value.getAsObject();
  if (!object)
    return error(where + " must be an object");

  KernelInfo kernel;
  llvm::Expected<std::string> name = requireString(*object, "name", where);
  if (!name)
    return name.takeError();
  kernel.name = std::move(*name);
  where = "kernel '" + kernel.name + "'";

  bool gpu = object->get("gpu") != nullptr;
  for (auto [key, field] : {std::pair{"kind", &kernel.kind}, std::pair{"entry", &kernel.entrySymbol},
                            std::pair{"work_items", &kernel.workItemsSymbol}}) {
    if (gpu && field == &kernel.entrySymbol)
      continue;
    llvm::Expected<std::string> string = requireString(*object, key, where);
    if (!string)
      return string.takeError();
    *field = std::move(*string);
  }

  const json::Array *operands = object->getArray("operands");
  if (!operands)
    return error(where + ": missing array 'operands'");
  if (operands->empty() || operands->size() > kMaxOperands)
    return error(llvm::formatv("{0}: has {1} operands, the runtime supports 1 to {2}", where, operands->size(),
                               kMaxOperands));
  llvm::StringSet<> operandNames;
  for (size_t i = 0; i < operands->size(); ++i) {
    llvm::Expected<OperandInfo> operand = parseOperand((*operands)[i], where + llvm::formatv(": operands[{0}]", i));
    if (!operand)
      return operand.takeError();
    if (!operandNames.insert(operand->name).second)
      return error(where + ": duplicate operand '" + operand->name + "'");
    kernel.operands.push_back(std::move(*operand));
  }

  if (gpu) {
    llvm::Expected<GpuLaunchInfo> launch = parseGpuLaunch(*object->get("gpu"), kernel.operands, where);
    if (!launch)
      return launch.takeError();
    kernel.gpu = std::move(*launch);
  }

  static const llvm::StringSet<> structuralKeys = {"name", "kind", "entry", "work_items", "operands", "gpu"};
  for (const auto &[key, attributeValue] : *object)
    if (!structuralKeys.contains(key))
      kernel.attributes.push_back({key.str(), spellJSON(attributeValue)});
  llvm::sort(kernel.attributes,
             [](const KernelAttribute &a, const KernelAttribute &b) { return a.name < b.name; });

  if (kernel.kind == "attention")
    if (llvm::Error err = checkAttentionKernel(kernel, where))
      return std::move(err);
  return kernel;
}

} // namespace

llvm::Expected<ModuleInfo> xf::rt::parseModuleInfo(llvm::StringRef text) {
  llvm::Expected<json::Value> document = json::parse(text);
  if (!document)
    return error("xf_module_info is not valid JSON: " + llvm::toString(document.takeError()));
  const json::Object *root = document->getAsObject();
  if (!root)
    return error("xf_module_info must be a JSON object");

  const json::Value *format = root->get("format");
  if (!format)
    return error("xf_module_info: missing key 'format'");
  std::optional<int64_t> formatNumber = format->getAsInteger();
  if (formatNumber != kModuleInfoFormat)
    return error(llvm::formatv("xf_module_info format {0} is not supported (this runtime reads format {1})",
                               spellJSON(*format), kModuleInfoFormat));

  ModuleInfo info;
  llvm::Expected<std::string> target = requireString(*root, "target", "xf_module_info");
  if (!target)
    return target.takeError();
  info.target = std::move(*target);

  const json::Array *kernels = root->getArray("kernels");
  if (!kernels)
    return error("xf_module_info: missing array 'kernels'");
  llvm::StringSet<> kernelNames;
  for (size_t i = 0; i < kernels->size(); ++i) {
    llvm::Expected<KernelInfo> kernel = parseKernel((*kernels)[i], i);
    if (!kernel)
      return kernel.takeError();
    if (!kernelNames.insert(kernel->name).second)
      return error("xf_module_info: duplicate kernel '" + kernel->name + "'");
    info.kernels.push_back(std::move(*kernel));
  }
  if (const json::Value *model = root->get("model")) {
    if (!model->getAsObject())
      return error("xf_module_info: 'model' is not an object");
    info.modelPlan = spellJSON(*model);
  }
  return info;
}
