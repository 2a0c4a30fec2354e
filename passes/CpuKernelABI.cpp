//===- CpuKernelABI.cpp - the CPU runtime's kernel calling convention -----===//
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFCPUKERNELABI
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

constexpr StringLiteral kKernelAttr = "xf.kernel";
constexpr StringLiteral kInfoAttr = "xf.attention_info";
constexpr StringLiteral kOperandNamesAttr = "xf.operand_names";

/// Erases side-effect-free ops whose results are unused, innermost first.
static void eraseDeadOps(Block &block) {
  SmallVector<Operation *> ops;
  for (Operation &op : block.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (op->use_empty() && isMemoryEffectFree(op))
      op->erase();
}

/// The launch description (xf.gpu_kernel) as JSON: integers, strings, i64 arrays, and lists and
/// dictionaries of those (CUDA's per-architecture PTX images).
static llvm::json::Value launchToJSON(Attribute value) {
  if (auto i = dyn_cast<IntegerAttr>(value))
    return i.getInt();
  if (auto str = dyn_cast<StringAttr>(value))
    return str.str();
  if (auto array = dyn_cast<DenseI64ArrayAttr>(value))
    return llvm::json::Array(array.asArrayRef());
  if (auto list = dyn_cast<ArrayAttr>(value)) {
    llvm::json::Array values;
    for (Attribute element : list)
      values.push_back(launchToJSON(element));
    return values;
  }
  if (auto dict = dyn_cast<DictionaryAttr>(value)) {
    llvm::json::Object object;
    for (NamedAttribute attr : dict)
      object[attr.getName().strref()] = launchToJSON(attr.getValue());
    return object;
  }
  return nullptr;
}

static llvm::json::Value describeKernel(func::FuncOp func, unsigned numOperands) {
  llvm::json::Object kernel;
  StringRef name = func.getSymName();
  kernel["name"] = name;
  kernel["entry"] = ("_mlir_ciface_" + name).str();
  kernel["work_items"] = ("_mlir_ciface_" + name + "_work_items").str();
  auto names = func->getAttrOfType<ArrayAttr>(kOperandNamesAttr);
  llvm::json::Array operands;
  for (unsigned i = 0; i < numOperands; ++i) {
    auto type = cast<MemRefType>(func.getArgumentTypes()[i]);
    llvm::json::Array shape;
    for (int64_t d : type.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? int64_t(-1) : d);
    std::string operandName = names && i < names.size() ? cast<StringAttr>(names[i]).str()
                                                         : ("arg" + Twine(i)).str();
    Type element = type.getElementType();
    StringRef dtype = element.isBF16() ? "bf16" : element.isF16() ? "f16" : "f32";
    operands.push_back(llvm::json::Object{{"name", operandName}, {"shape", std::move(shape)}, {"dtype", dtype}});
  }
  kernel["operands"] = std::move(operands);
  if (auto gpu = func->getAttrOfType<DictionaryAttr>("xf.gpu_kernel")) {
    // GPU targets: the kernel is a SPIR-V or PTX module in the artifact, not a host entry point.
    kernel.erase("entry");
    kernel["gpu"] = launchToJSON(gpu);
  }
  DictionaryAttr info = func->getAttrOfType<DictionaryAttr>(kInfoAttr);
  if (info)
    kernel["kind"] = "attention";
  else
    info = func->getAttrOfType<DictionaryAttr>("xf.kernel_info");
  if (info) {
    for (NamedAttribute attr : info) {
      if (auto i = dyn_cast<IntegerAttr>(attr.getValue()))
        kernel[attr.getName().strref()] =
            i.getType().isInteger(1) ? llvm::json::Value(i.getValue().getBoolValue())
                                     : llvm::json::Value(i.getInt());
      else if (auto f = dyn_cast<FloatAttr>(attr.getValue()))
        kernel[attr.getName().strref()] = f.getValueAsDouble();
      else if (auto bl = dyn_cast<BoolAttr>(attr.getValue()))
        kernel[attr.getName().strref()] = bl.getValue();
      else if (auto str = dyn_cast<StringAttr>(attr.getValue()))
        kernel[attr.getName().strref()] = str.str();
      else if (auto doubles = dyn_cast<DenseF64ArrayAttr>(attr.getValue()))
        kernel[attr.getName().strref()] = llvm::json::Array(doubles.asArrayRef());
    }
  }
  return llvm::json::Value(std::move(kernel));
}

} // namespace

FailureOr<scf::ParallelOp> xf::findKernelWorkLoop(func::FuncOp func, bool allowAlloc) {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return func.emitError("xf kernel must have a body of one block");
  scf::ParallelOp par;
  for (Operation &op : func.getBody().front()) {
    if (auto p = dyn_cast<scf::ParallelOp>(op)) {
      if (par)
        return func.emitError("xf kernel must contain one top-level scf.parallel, found several");
      par = p;
    } else if (!isMemoryEffectFree(&op) && !isa<func::ReturnOp, memref::DimOp>(op) &&
               !(allowAlloc && isa<memref::AllocOp>(op))) {
      return op.emitError("xf kernel must hold only its work loop and index arithmetic; found ") << op.getName();
    }
  }
  if (!par || par.getNumLoops() != 1)
    return func.emitError("xf kernel must contain one one-dimensional top-level scf.parallel");
  return par;
}

namespace {

struct CpuKernelABIPass : public xf::impl::XFCpuKernelABIBase<CpuKernelABIPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels;
    module.walk([&](func::FuncOp f) {
      if (f->hasAttr(kKernelAttr))
        kernels.push_back(f);
    });
    llvm::json::Array described;
    for (func::FuncOp func : kernels) {
      if (failed(convert(func, described)))
        return signalPassFailure();
    }
    if (kernels.empty())
      return;

    llvm::json::Object moduleInfo{{"format", 1}, {"target", target}, {"kernels", std::move(described)}};
    // A model's plan (frontend/ModelPlan.h) rides along for the runtime's model loader.
    if (auto plan = module->getAttrOfType<StringAttr>("xf.model_plan")) {
      llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(plan.getValue());
      if (!parsed) {
        module.emitError("xf.model_plan is not valid JSON: ") << llvm::toString(parsed.takeError());
        return signalPassFailure();
      }
      moduleInfo["model"] = std::move(*parsed);
    }
    std::string json;
    llvm::raw_string_ostream os(json);
    os << llvm::json::Value(std::move(moduleInfo));
    json.push_back('\0');
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), json.size());
    LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true, LLVM::Linkage::External,
                           "xf_module_info", b.getStringAttr(json));
  }

  LogicalResult convert(func::FuncOp func, llvm::json::Array &described) {
    FailureOr<scf::ParallelOp> workLoop = xf::findKernelWorkLoop(func, /*allowAlloc=*/true);
    if (failed(workLoop))
      return failure();
    scf::ParallelOp par = *workLoop;
    Block &body = func.getBody().front();
    // Bufferized destination-style kernels return their output arguments; the caller owns those.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (Value v : ret.getOperands())
      if (!isa<BlockArgument>(v) || cast<BlockArgument>(v).getOwner() != &body)
        return func.emitError("xf kernel must write its outputs into arguments, not return new values");
    if (ret.getNumOperands()) {
      OpBuilder rb(ret);
      func::ReturnOp::create(rb, ret.getLoc());
      ret.erase();
      func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(), {}));
    }
    unsigned numOperands = func.getNumArguments();
    for (Type type : func.getArgumentTypes()) {
      auto memref = dyn_cast<MemRefType>(type);
      if (!memref || !(memref.getElementType().isF32() || memref.getElementType().isBF16() ||
                       memref.getElementType().isF16()))
        return func.emitError("xf kernel operands must be memrefs of f32, bf16 or f16, got ") << type;
    }
    for (auto alloca : par.getBody()->getOps<memref::AllocaOp>())
      if (alloca->getNumOperands() != 0)
        return alloca.emitError("xf kernel scratch must have a static size");
    described.push_back(describeKernel(func, numOperands));

    // The work-item counter: the function's index arithmetic, returning the loop's upper bound.
    OpBuilder b(func);
    auto counter = cast<func::FuncOp>(b.clone(*func));
    counter.setSymName((func.getSymName() + "_work_items").str());
    counter->removeAttr(kKernelAttr);
    counter->removeAttr(kInfoAttr);
    counter->removeAttr("xf.kernel_info");
    counter->removeAttr(kOperandNamesAttr);
    counter->removeAttr("xf.gpu_kernel");
    Block &counterBody = counter.getBody().front();
    auto counterPar = *counterBody.getOps<scf::ParallelOp>().begin();
    Value upper = counterPar.getUpperBound()[0];
    counterPar.erase();
    Operation *counterRet = counterBody.getTerminator();
    b.setInsertionPoint(counterRet);
    func::ReturnOp::create(b, counterRet->getLoc(), upper);
    counterRet->erase();
    counter.setType(b.getFunctionType(counter.getArgumentTypes(), {b.getIndexType()}));
    eraseDeadOps(counterBody);
    counter->setAttr("llvm.emit_c_interface", b.getUnitAttr());

    if (target != "cpu") {
      // The kernel runs on the device; the host keeps only the counter.
      func.erase();
      return success();
    }

    // The kernel itself runs the work items in [begin, end).
    Type index = b.getIndexType();
    Location loc = func.getLoc();
    (void)func.insertArgument(numOperands, index, {}, loc);
    (void)func.insertArgument(numOperands + 1, index, {}, loc);
    Value begin = func.getArgument(numOperands), end = func.getArgument(numOperands + 1);
    b.setInsertionPoint(par);
    Value lo = arith::MaxSIOp::create(b, loc, begin, par.getLowerBound()[0]);
    Value hi = arith::MinSIOp::create(b, loc, end, par.getUpperBound()[0]);
    auto loop = scf::ForOp::create(b, loc, lo, hi, par.getStep()[0]);
    Block *loopBody = loop.getBody();
    Block *parBody = par.getBody();
    parBody->getTerminator()->erase();
    loopBody->getOperations().splice(loopBody->begin(), parBody->getOperations());
    par.getInductionVars()[0].replaceAllUsesWith(loop.getInductionVar());
    par.erase();
    // scf.for is no allocation scope: per-item scratch would grow the stack with every item. One call
    // runs on one thread, so the items can share scratch allocated once at entry.
    for (auto alloca : llvm::make_early_inc_range(loopBody->getOps<memref::AllocaOp>()))
      if (alloca->getNumOperands() == 0)
        alloca->moveBefore(&body.front());
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    return success();
  }
};

} // namespace
