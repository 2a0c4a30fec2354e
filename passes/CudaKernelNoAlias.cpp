//===- CudaKernelNoAlias.cpp - read-only, non-aliasing kernel buffers ------===//
//
// The CUDA runtime gives every operand its own device buffer and kernels write only their output (the last
// operand) and scratch (after it; xf-gpu-outline-kernels counts the read-only buffers before them), so the
// NVPTX backend may read the inputs through the read-only data cache (ld.global.nc). It
// may only when the pointers say so, and convert-gpu-to-nvvm cannot copy `llvm.noalias` to the pointers
// of a memref descriptor; this pass marks them after the conversion.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFCUDAKERNELNOALIAS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

struct CudaKernelNoAliasPass : public xf::impl::XFCudaKernelNoAliasBase<CudaKernelNoAliasPass> {
  void runOnOperation() override {
    getOperation().walk([&](LLVM::LLVMFuncOp kernel) {
      if (!kernel->hasAttr(NVVM::NVVMDialect::getKernelFuncAttrName()))
        return;
      // A buffer is the 32-bit-index descriptor (allocated, aligned, offset, size, stride); the loads and
      // stores go through the aligned pointer. The i32 shapes follow the buffers.
      auto types = kernel.getFunctionType().getParams();
      SmallVector<unsigned> aligned;
      for (unsigned i = 0; i + 4 < types.size() && isa<LLVM::LLVMPointerType>(types[i]) &&
                           isa<LLVM::LLVMPointerType>(types[i + 1]);
           i += 5)
        aligned.push_back(i + 1);
      UnitAttr unit = UnitAttr::get(kernel.getContext());
      size_t readOnly = aligned.empty() ? 0 : aligned.size() - 1;
      if (auto count = kernel->getAttrOfType<IntegerAttr>("xf.read_only_buffers"))
        readOnly = std::min<size_t>(readOnly, count.getInt());
      for (auto [k, arg] : llvm::enumerate(aligned)) {
        kernel.setArgAttr(arg, LLVM::LLVMDialect::getNoAliasAttrName(), unit);
        if (k < readOnly)
          kernel.setArgAttr(arg, LLVM::LLVMDialect::getReadonlyAttrName(), unit);
      }
      // Scratch after the output holds what other warps wrote (split-K partials, read once their writers
      // have fenced and counted themselves in): its loads are volatile, so they go past the non-coherent L1.
      if (kernel->hasAttr("xf.read_only_buffers") && aligned.size() > readOnly + 1) {
        Value scratch = kernel.getArgument(aligned[readOnly + 1]);
        SmallVector<Value> derived{scratch};
        while (!derived.empty()) {
          Value pointer = derived.pop_back_val();
          for (Operation *user : pointer.getUsers()) {
            if (auto gep = dyn_cast<LLVM::GEPOp>(user); gep && gep.getBase() == pointer)
              derived.push_back(gep.getResult());
            else if (auto load = dyn_cast<LLVM::LoadOp>(user))
              load.setVolatile_(true);
          }
        }
      }
    });
  }
};

} // namespace
