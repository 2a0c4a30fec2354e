//===- Module.cpp - opening xf modules and reading their metadata ----------===//

#include "Module.h"
#include "Status.h"

#include "llvm/ADT/StringExtras.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

using namespace xf::rt;

int64_t xf::rt::findKernelIndex(const xfrt_module &module, const char *name) {
  const std::vector<KernelInfo> &kernels = module.info.kernels;
  if (!name)
    return kernels.size() == 1 ? 0 : -1;
  for (size_t i = 0; i < kernels.size(); ++i)
    if (kernels[i].name == name)
      return static_cast<int64_t>(i);
  return -1;
}

std::string xf::rt::describeMissingKernel(const xfrt_module &module, const char *name) {
  std::vector<llvm::StringRef> names;
  for (const KernelInfo &kernel : module.info.kernels)
    names.push_back(kernel.name);
  std::string known = names.empty() ? "it has none" : "it has: " + llvm::join(names, ", ");
  if (!name)
    return module.path + ": no kernel named and the module has " + std::to_string(names.size()) +
           " kernels; " + known;
  return module.path + ": no kernel '" + name + "'; " + known;
}

namespace {

struct ModuleCloser {
  void operator()(xfrt_module *module) const { xfrt_module_close(module); }
};

/// `xf_module_info` as a string. The ELF symbol size, when the loader can tell it, guards against an array
/// that is not NUL-terminated (reading past it would crash instead of failing).
const char *findModuleInfo(void *handle, std::string &problem) {
  void *address = dlsym(handle, "xf_module_info");
  if (!address) {
    problem = "not an xf module (no 'xf_module_info' symbol)";
    return nullptr;
  }
  Dl_info info;
  void *symbolEntry = nullptr;
  if (dladdr1(address, &info, &symbolEntry, RTLD_DL_SYMENT) && symbolEntry) {
    auto *symbol = static_cast<const ElfW(Sym) *>(symbolEntry);
    if (symbol->st_size > 0 && !memchr(address, '\0', symbol->st_size)) {
      problem = "'xf_module_info' is not NUL-terminated";
      return nullptr;
    }
  }
  return static_cast<const char *>(address);
}

xfrt_status openModule(const char *path, xfrt_module **out) {
  if (!out)
    return failure("xfrt_module_open: 'out' is NULL");
  *out = nullptr;
  if (!path)
    return failure("xfrt_module_open: 'path' is NULL");

  // Checked up front because dlerror's wording for a missing file varies and may not name the path.
  struct stat fileStatus;
  if (stat(path, &fileStatus) != 0)
    return failure(std::string(path) + ": cannot open: " + std::strerror(errno));
  if (!S_ISREG(fileStatus.st_mode))
    return failure(std::string(path) + ": not a regular file");

  auto module = std::unique_ptr<xfrt_module, ModuleCloser>(new xfrt_module_s);
  module->path = path;
  // Without a slash, dlopen would search the library path instead of opening the file the user named.
  std::string loadPath = std::strchr(path, '/') ? path : "./" + module->path;
  dlerror();
  module->handle = dlopen(loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!module->handle) {
    const char *reason = dlerror();
    return failure(module->path + ": not a loadable shared library (" + (reason ? reason : "dlopen failed") +
                   ")");
  }

  std::string problem;
  const char *infoText = findModuleInfo(module->handle, problem);
  if (!infoText)
    return failure(module->path + ": " + problem);
  llvm::Expected<ModuleInfo> info = parseModuleInfo(infoText);
  if (!info)
    return failure(module->path + ": " + llvm::toString(info.takeError()));
  module->info = std::move(*info);
  bool cuda = module->info.target == "cuda";
  bool gpu = module->info.target == "vulkan" || cuda;
  if (module->info.target != "cpu" && !gpu)
    return failure(module->path + ": module is compiled for target '" + module->info.target +
                   "', this runtime runs 'cpu', 'vulkan' and 'cuda' modules");

  for (const KernelInfo &kernel : module->info.kernels) {
    if (gpu != kernel.gpu.has_value())
      return failure(module->path + ": kernel '" + kernel.name + "': " +
                     (gpu ? "a " + module->info.target + " module's kernels need 'gpu' launch metadata"
                          : std::string("a cpu module's kernels have no 'gpu' metadata")));
    if (gpu && cuda == kernel.gpu->ptx.empty())
      return failure(module->path + ": kernel '" + kernel.name + "': " +
                     (cuda ? "a cuda kernel needs 'ptx' images" : "a vulkan kernel has a SPIR-V 'binary', not 'ptx'"));
    xfrt_module_s::EntryPoints entryPoints;
    for (auto [symbol, slot] : {std::pair{&kernel.entrySymbol, &entryPoints.entry},
                                std::pair{&kernel.workItemsSymbol, &entryPoints.workItems}}) {
      if (symbol->empty())
        continue;
      *slot = dlsym(module->handle, symbol->c_str());
      if (!*slot)
        return failure(module->path + ": kernel '" + kernel.name + "': symbol '" + *symbol + "' not found");
    }
    for (const PtxImage &image : cuda ? kernel.gpu->ptx : std::vector<PtxImage>()) {
      const char *text = static_cast<const char *>(dlsym(module->handle, image.symbol.c_str()));
      if (!text)
        return failure(module->path + ": kernel '" + kernel.name + "': symbol '" + image.symbol + "' not found");
      if (text[image.size - 1] != '\0')
        return failure(module->path + ": kernel '" + kernel.name + "': PTX '" + image.symbol +
                       "' is not NUL-terminated");
      entryPoints.ptx.push_back(text);
    }
    if (gpu && !cuda) {
      entryPoints.binary = dlsym(module->handle, kernel.gpu->binarySymbol.c_str());
      if (!entryPoints.binary)
        return failure(module->path + ": kernel '" + kernel.name + "': symbol '" + kernel.gpu->binarySymbol +
                       "' not found");
      if (reinterpret_cast<uintptr_t>(entryPoints.binary) % 4)
        return failure(module->path + ": kernel '" + kernel.name + "': SPIR-V is not 4-byte aligned");
    }
    module->entryPoints.push_back(entryPoints);
  }
  *out = module.release();
  return nullptr;
}

const KernelInfo *findKernel(const xfrt_module *module, const char *kernel) {
  if (!module)
    return nullptr;
  int64_t index = findKernelIndex(*module, kernel);
  return index < 0 ? nullptr : &module->info.kernels[index];
}

} // namespace

extern "C" xfrt_status xfrt_module_open(const char *path, xfrt_module **out) {
  return guarded("xfrt_module_open", [&] { return openModule(path, out); });
}

extern "C" void xfrt_module_close(xfrt_module *module) {
  if (!module)
    return;
  if (module->handle)
    dlclose(module->handle);
  delete module;
}

extern "C" const char *xfrt_module_target(const xfrt_module *module) {
  return module ? module->info.target.c_str() : nullptr;
}

extern "C" int64_t xfrt_module_num_kernels(const xfrt_module *module) {
  return module ? static_cast<int64_t>(module->info.kernels.size()) : 0;
}

extern "C" const char *xfrt_module_kernel_name(const xfrt_module *module, int64_t index) {
  if (!module || index < 0 || index >= xfrt_module_num_kernels(module))
    return nullptr;
  return module->info.kernels[index].name.c_str();
}

extern "C" const char *xfrt_kernel_kind(const xfrt_module *module, const char *kernel) {
  const KernelInfo *info = findKernel(module, kernel);
  return info ? info->kind.c_str() : nullptr;
}

extern "C" int64_t xfrt_kernel_num_operands(const xfrt_module *module, const char *kernel) {
  const KernelInfo *info = findKernel(module, kernel);
  return info ? static_cast<int64_t>(info->operands.size()) : -1;
}

extern "C" const char *xfrt_kernel_operand_name(const xfrt_module *module, const char *kernel, int64_t index) {
  const KernelInfo *info = findKernel(module, kernel);
  if (!info || index < 0 || index >= static_cast<int64_t>(info->operands.size()))
    return nullptr;
  return info->operands[index].name.c_str();
}

extern "C" int32_t xfrt_kernel_operand_shape(const xfrt_module *module, const char *kernel, int64_t index,
                                             int64_t shape[XFRT_MAX_RANK]) {
  const KernelInfo *info = findKernel(module, kernel);
  if (!info || index < 0 || index >= static_cast<int64_t>(info->operands.size()))
    return -1;
  const std::vector<int64_t> &declared = info->operands[index].shape;
  if (shape)
    std::copy(declared.begin(), declared.end(), shape);
  return static_cast<int32_t>(declared.size());
}

extern "C" int32_t xfrt_kernel_operand_dtype(const xfrt_module *module, const char *kernel, int64_t index) {
  const KernelInfo *info = findKernel(module, kernel);
  if (!info || index < 0 || index >= static_cast<int64_t>(info->operands.size()))
    return -1;
  return info->operands[index].dtype;
}

extern "C" const char *xfrt_dtype_name(xfrt_dtype dtype) {
  switch (dtype) {
  case XFRT_F32:
    return "f32";
  case XFRT_BF16:
    return "bf16";
  case XFRT_F16:
    return "f16";
  case XFRT_DTYPE_MAX_ENUM:
    break;
  }
  return nullptr;
}

extern "C" size_t xfrt_dtype_size(xfrt_dtype dtype) {
  switch (dtype) {
  case XFRT_F32:
    return 4;
  case XFRT_BF16:
  case XFRT_F16:
    return 2;
  case XFRT_DTYPE_MAX_ENUM:
    break;
  }
  return 0;
}

extern "C" int64_t xfrt_kernel_num_attributes(const xfrt_module *module, const char *kernel) {
  const KernelInfo *info = findKernel(module, kernel);
  return info ? static_cast<int64_t>(info->attributes.size()) : -1;
}

extern "C" const char *xfrt_kernel_attribute_name(const xfrt_module *module, const char *kernel, int64_t index) {
  const KernelInfo *info = findKernel(module, kernel);
  if (!info || index < 0 || index >= static_cast<int64_t>(info->attributes.size()))
    return nullptr;
  return info->attributes[index].name.c_str();
}

extern "C" const char *xfrt_kernel_attribute(const xfrt_module *module, const char *kernel, const char *name) {
  const KernelInfo *info = findKernel(module, kernel);
  const KernelAttribute *attribute = info && name ? info->findAttribute(name) : nullptr;
  return attribute ? attribute->json.c_str() : nullptr;
}
