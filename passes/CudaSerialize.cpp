//===- CudaSerialize.cpp - each kernel's PTX, per architecture, in the artifact ===//
//
// `gpu-module-to-binary{format=isa}` leaves one gpu.binary per kernel holding a PTX object per attached
// NVVM target. The runtime loads PTX with cuModuleLoadData, which wants NUL-terminated text at a symbol it
// can find with dlsym, so each object becomes an LLVM global and the kernel's metadata names them.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFCUDASERIALIZE
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

/// "sm_90" -> 90; "sm_90a" -> 90 (the architecture-specific features do not change which device loads it).
std::optional<int64_t> computeCapability(StringRef chip) {
  int64_t value = 0;
  if (!chip.consume_front("sm_"))
    return std::nullopt;
  chip.consumeInteger(10, value);
  return value > 0 ? std::optional(value) : std::nullopt;
}

struct CudaSerializePass : public xf::impl::XFCudaSerializeBase<CudaSerializePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    for (auto binary : llvm::to_vector(module.getOps<gpu::BinaryOp>())) {
      StringRef name = binary.getSymName();
      if (!name.consume_back("_gpu")) {
        binary.emitError("expected the gpu.binary of an outlined xf kernel (named <kernel>_gpu)");
        return signalPassFailure();
      }
      auto host = module.lookupSymbol<func::FuncOp>(name);
      auto info = host ? host->getAttrOfType<DictionaryAttr>("xf.gpu_kernel") : DictionaryAttr();
      if (!info) {
        binary.emitError("no host function with xf.gpu_kernel for kernel '") << name << "'";
        return signalPassFailure();
      }

      OpBuilder b(ctx);
      b.setInsertionPointToEnd(module.getBody());
      SmallVector<Attribute> images;
      for (auto object : binary.getObjectsAttr().getAsRange<gpu::ObjectAttr>()) {
        auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
        std::optional<int64_t> arch = target ? computeCapability(target.getChip()) : std::nullopt;
        if (!arch || object.getFormat() != gpu::CompilationTarget::Assembly) {
          binary.emitError("expected PTX objects (format=isa) for #nvvm.target chips sm_XX, found ") << object;
          return signalPassFailure();
        }
        // A math function libdevice did not provide stays an external call, which no driver can resolve.
        StringRef ptx = object.getObject().getValue();
        if (size_t at = ptx.find(".extern .func"); at != StringRef::npos) {
          // ".extern .func  (.param .b32 func_retval0) __nv_expf": the callee is the line's last word.
          StringRef callee = ptx.substr(at).take_until([](char c) { return c == '\n'; }).rtrim(" (").rsplit(' ').second;
          binary.emitError("kernel '") << name << "' calls '" << callee
                                       << "', which libdevice provides: point the CUDA pipeline at a toolkit with "
                                          "nvvm/libdevice (xfc --cuda-path)";
          return signalPassFailure();
        }
        std::string symbol = ("xf_ptx_" + name + "_sm" + Twine(*arch)).str();
        std::string text = (object.getObject().getValue() + StringRef("\0", 1)).str();
        auto type = LLVM::LLVMArrayType::get(b.getI8Type(), text.size());
        LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true, LLVM::Linkage::External, symbol,
                               b.getStringAttr(text));
        NamedAttribute fields[] = {b.getNamedAttr("arch", b.getI64IntegerAttr(*arch)),
                                   b.getNamedAttr("symbol", b.getStringAttr(symbol)),
                                   b.getNamedAttr("size", b.getI64IntegerAttr(text.size()))};
        images.push_back(b.getDictionaryAttr(fields));
      }
      if (images.empty()) {
        binary.emitError("kernel '") << name << "' has no PTX object";
        return signalPassFailure();
      }
      NamedAttrList fields(info);
      fields.set("ptx", b.getArrayAttr(images));
      host->setAttr("xf.gpu_kernel", fields.getDictionary(ctx));
      binary.erase();
    }
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};

} // namespace
