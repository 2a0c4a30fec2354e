//===- VulkanSerialize.cpp - push constants, then SPIR-V words in the artifact ===//
//
// convert-gpu-to-spirv gives every scalar kernel argument its own storage buffer; Vulkan passes small
// per-dispatch values as push constants instead, which need no buffer, no descriptor and no upload.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVTypes.h"
#include "mlir/Target/SPIRV/Serialization.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFVULKANSERIALIZE
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

constexpr unsigned kPushConstantSet = 1; // as xf-gpu-outline-kernels assigns it

/// Replaces the set-1 globals (one `struct<(i32)>` storage buffer per scalar argument) by one push-constant
/// block whose member k is the scalar of binding k.
LogicalResult mergePushConstants(spirv::ModuleOp module) {
  SmallVector<spirv::GlobalVariableOp> scalars;
  for (auto global : module.getOps<spirv::GlobalVariableOp>())
    if (global.getDescriptorSet() == kPushConstantSet)
      scalars.push_back(global);
  if (scalars.empty())
    return success();
  llvm::sort(scalars, [](auto a, auto b) { return *a.getBinding() < *b.getBinding(); });

  MLIRContext *ctx = module.getContext();
  SmallVector<Type> members;
  SmallVector<spirv::StructType::OffsetInfo> offsets;
  uint32_t offset = 0;
  for (auto [k, global] : llvm::enumerate(scalars)) {
    auto pointer = cast<spirv::PointerType>(global.getType());
    auto wrapper = dyn_cast<spirv::StructType>(pointer.getPointeeType());
    if (*global.getBinding() != k || !wrapper || wrapper.getNumElements() != 1 ||
        !wrapper.getElementType(0).isInteger(32))
      return global.emitError("expected the i32 kernel argument of push-constant slot ") << k;
    members.push_back(wrapper.getElementType(0));
    offsets.push_back(offset);
    offset += 4;
  }
  auto block = spirv::StructType::get(members, offsets, {},
                                      {spirv::StructType::StructDecorationInfo(spirv::Decoration::Block,
                                                                               UnitAttr::get(ctx))});
  auto blockPointer = spirv::PointerType::get(block, spirv::StorageClass::PushConstant);
  OpBuilder b(scalars.front());
  auto pushConstants = spirv::GlobalVariableOp::create(b, scalars.front().getLoc(), TypeAttr::get(blockPointer),
                                                       b.getStringAttr("xf_push_constants"), nullptr);
  auto i32 = IntegerType::get(ctx, 32);

  for (auto [k, scalar] : llvm::enumerate(scalars)) {
    StringRef name = scalar.getSymName();
    SmallVector<spirv::AddressOfOp> addresses;
    module.walk([&](spirv::AddressOfOp address) {
      if (address.getVariable() == name)
        addresses.push_back(address);
    });
    for (spirv::AddressOfOp address : addresses) {
      b.setInsertionPoint(address);
      Value base = spirv::AddressOfOp::create(b, address.getLoc(), pushConstants);
      for (Operation *user : llvm::make_early_inc_range(address->getUsers())) {
        auto chain = dyn_cast<spirv::AccessChainOp>(user);
        if (!chain || chain.getIndices().size() != 1)
          return user->emitError("push-constant arguments are read through one access chain");
        b.setInsertionPoint(chain);
        Value member = spirv::ConstantOp::create(b, chain.getLoc(), i32, b.getI32IntegerAttr(k));
        Value replacement = spirv::AccessChainOp::create(b, chain.getLoc(), base, ValueRange{member});
        chain.replaceAllUsesWith(replacement);
        chain.erase();
      }
      address.erase();
    }
  }

  // Entry points list the globals they use (SPIR-V 1.4 and later).
  DenseSet<StringRef> removed;
  for (auto global : scalars)
    removed.insert(global.getSymName());
  for (auto entry : module.getOps<spirv::EntryPointOp>()) {
    SmallVector<Attribute> interface;
    bool added = false;
    for (Attribute ref : entry.getInterface()) {
      if (removed.contains(cast<FlatSymbolRefAttr>(ref).getValue())) {
        if (!std::exchange(added, true))
          interface.push_back(FlatSymbolRefAttr::get(pushConstants.getSymNameAttr()));
        continue;
      }
      interface.push_back(ref);
    }
    entry.setInterfaceAttr(ArrayAttr::get(ctx, interface));
  }
  for (auto global : scalars)
    global.erase();
  return success();
}

struct VulkanSerializePass : public xf::impl::XFVulkanSerializeBase<VulkanSerializePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<spirv::ModuleOp> spirvModules(module.getOps<spirv::ModuleOp>());
    for (spirv::ModuleOp spirvModule : spirvModules) {
      if (failed(mergePushConstants(spirvModule)))
        return signalPassFailure();
      auto entries = llvm::to_vector(spirvModule.getOps<spirv::EntryPointOp>());
      if (entries.size() != 1) {
        spirvModule.emitError("expected one entry point per SPIR-V module, found ") << entries.size();
        return signalPassFailure();
      }
      StringRef kernelName = entries.front().getFn();
      auto host = module.lookupSymbol<func::FuncOp>(kernelName);
      auto info = host ? host->getAttrOfType<DictionaryAttr>("xf.gpu_kernel") : DictionaryAttr();
      if (!info) {
        spirvModule.emitError("no host function with xf.gpu_kernel for kernel '") << kernelName << "'";
        return signalPassFailure();
      }
      SmallVector<uint32_t> words;
      if (failed(spirv::serialize(spirvModule, words)))
        return signalPassFailure();

      OpBuilder b(module.getBodyRegion());
      b.setInsertionPointToEnd(module.getBody());
      std::string symbol = ("xf_spirv_" + kernelName).str();
      StringRef bytes(reinterpret_cast<const char *>(words.data()), words.size() * sizeof(uint32_t));
      auto type = LLVM::LLVMArrayType::get(b.getI8Type(), bytes.size());
      auto global = LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true, LLVM::Linkage::External,
                                           symbol, b.getStringAttr(bytes));
      global.setAlignment(4);
      NamedAttrList fields(info);
      fields.set("binary", b.getStringAttr(symbol));
      fields.set("binary_size", b.getI64IntegerAttr(bytes.size()));
      host->setAttr("xf.gpu_kernel", fields.getDictionary(module.getContext()));
    }
    for (Operation &op : llvm::make_early_inc_range(module.getBody()->getOperations()))
      if (isa<spirv::ModuleOp, gpu::GPUModuleOp>(op))
        op.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};

} // namespace
