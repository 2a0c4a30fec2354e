//===- GpuOutline.cpp - xf kernels as GPU kernels with a flat buffer ABI ---===//
//
// The CPU lowering already splits every kernel into independent work items of one scf.parallel; on a GPU
// each thread runs one item. Operands become flat buffers indexed row-major, because neither Vulkan nor
// our CUDA launcher passes memref descriptors, and SPIR-V cannot index memrefs with dynamic strides.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFGPUOUTLINEKERNELS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

/// Descriptor set of the scalar arguments; xf-vulkan-serialize turns it into the push-constant block.
constexpr unsigned kPushConstantSet = 1;

struct OperandLayout {
  MemRefType type;
  Value flat;                // the flat buffer argument
  SmallVector<Value> sizes;  // every dimension as an index value (constants or kernel arguments)
  SmallVector<Value> extents; // the extent each dimension is indexed with: its size, or a pitch argument
};

/// The dimensions indexed with a pitch passed at launch instead of their size: attention's key and value
/// rows (dim 2 of [B, Hkv, T, D]), so a KV cache allocated for more rows than it holds is read in place.
SmallVector<std::pair<unsigned, unsigned>> pitchedDims(func::FuncOp func) {
  SmallVector<std::pair<unsigned, unsigned>> dims;
  auto names = func->getAttrOfType<ArrayAttr>("xf.operand_names");
  if (!names)
    return dims;
  for (auto [i, name] : llvm::enumerate(names.getAsValueRange<StringAttr>())) {
    auto type = dyn_cast<MemRefType>(func.getArgumentTypes()[i]);
    if ((name == "key" || name == "value") && type && type.getRank() == 4 && type.isDynamicDim(2))
      dims.push_back({static_cast<unsigned>(i), 2});
  }
  return dims;
}

/// SPIR-V has no index type in memory; Vulkan indexes with i32, so index scratch holds i32 and its loads
/// and stores cast.
LogicalResult narrowIndexScratch(memref::AllocaOp alloca) {
  auto i32 = IntegerType::get(alloca.getContext(), 32);
  auto narrow = [&](Type t) -> Type {
    if (auto vector = dyn_cast<VectorType>(t))
      return VectorType::get(vector.getShape(), i32);
    return i32;
  };
  for (Operation *user : llvm::make_early_inc_range(alloca->getUsers())) {
    OpBuilder b(user);
    Location loc = user->getLoc();
    if (isa<memref::LoadOp, vector::LoadOp>(user)) {
      Value loaded = user->getResult(0);
      Type wide = loaded.getType();
      loaded.setType(narrow(wide));
      b.setInsertionPointAfter(user);
      auto cast = arith::IndexCastOp::create(b, loc, wide, loaded);
      loaded.replaceAllUsesExcept(cast, cast);
    } else if (isa<memref::StoreOp, vector::StoreOp>(user)) {
      OpOperand &stored = user->getOpOperand(0);
      stored.set(arith::IndexCastOp::create(b, loc, narrow(stored.get().getType()), stored.get()));
    } else {
      return user->emitError("GPU kernel index scratch is accessed only by loads and stores; found ")
             << user->getName();
    }
  }
  MemRefType type = alloca.getType();
  alloca.getResult().setType(MemRefType::get(type.getShape(), i32, type.getLayout(), type.getMemorySpace()));
  return success();
}

/// SPIR-V vectors have at most 4 lanes in shaders. The lowering keeps per-head constants (gains, modifier
/// lookup tables) as constant vectors indexed by a dynamic head; each such lookup becomes a select chain.
LogicalResult scalarizeConstantTables(gpu::GPUFuncOp kernel) {
  SmallVector<vector::ExtractOp> lookups;
  kernel.walk([&](vector::ExtractOp extract) {
    if (extract.getSourceVectorType().getNumElements() > 4)
      lookups.push_back(extract);
  });
  for (vector::ExtractOp extract : lookups) {
    DenseElementsAttr table;
    if (extract.getSourceVectorType().getRank() != 1 || extract.getNumIndices() != 1 ||
        !matchPattern(extract.getSource(), m_Constant(&table)))
      return extract.emitError("GPU kernels index vectors of more than 4 lanes only as constant tables");
    OpBuilder b(extract);
    Location loc = extract.getLoc();
    Value position = getValueOrCreateConstantIndexOp(b, loc, extract.getMixedPosition()[0]);
    auto elements = llvm::to_vector(table.getValues<Attribute>());
    Type type = extract.getType();
    Value result = arith::ConstantOp::create(b, loc, type, cast<TypedAttr>(elements.back()));
    for (int64_t i = static_cast<int64_t>(elements.size()) - 2; i >= 0; --i) {
      Value isI = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, position,
                                        arith::ConstantIndexOp::create(b, loc, i));
      Value value = arith::ConstantOp::create(b, loc, type, cast<TypedAttr>(elements[i]));
      result = arith::SelectOp::create(b, loc, isI, value, result);
    }
    extract.replaceAllUsesWith(result);
    extract.erase();
  }
  return success();
}

/// The SCF-to-SPIR-V conversion passes an scf.for's results out of the loop through variables that only
/// the loop body writes, so a loop that runs zero times yields garbage instead of its initial values.
/// Every loop with results is therefore entered only when it runs at least once.
void guardZeroTripLoops(gpu::GPUFuncOp kernel) {
  SmallVector<scf::ForOp> loops;
  kernel.walk([&](scf::ForOp loop) {
    if (loop.getNumResults())
      loops.push_back(loop);
  });
  for (scf::ForOp loop : loops) {
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    Value runs = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, loop.getLowerBound(), loop.getUpperBound());
    auto guard = scf::IfOp::create(b, loc, loop.getResultTypes(), runs, /*withElseRegion=*/true);
    loop->replaceAllUsesWith(guard.getResults());
    loop->moveBefore(guard.thenBlock(), guard.thenBlock()->end());
    b.setInsertionPointToEnd(guard.thenBlock());
    scf::YieldOp::create(b, loc, loop.getResults());
    b.setInsertionPointToEnd(guard.elseBlock());
    scf::YieldOp::create(b, loc, loop.getInitArgs());
  }
}

/// Loops of a constant trip count that a loop of dynamic trip count repeats (attention's key-block loop)
/// are unrolled, up to a size, so that a kernel does not depend on how a device runs long loops: Mesa's
/// llvmpipe, the CI's Vulkan device, silently stops an invocation after 65535 loop iterations in all.
/// Loops run once per invocation stay rolled, which keeps shaders small. So do loops inside a loop with
/// workgroup barriers: llvmpipe runs a workgroup's invocations as coroutines, and every value live across
/// a barrier (all of an unrolled accumulator) slows each switch, 10x overall for the staged attention form.
void unrollConstantLoops(gpu::GPUFuncOp kernel) {
  constexpr int64_t kMaxTrips = 512, kMaxUnrolledOps = 16384;
  llvm::SmallPtrSet<Operation *, 4> barrierLoops;
  kernel.walk([&](gpu::BarrierOp barrier) {
    for (Operation *parent = barrier->getParentOp(); parent; parent = parent->getParentOp())
      if (isa<scf::ForOp>(parent))
        barrierLoops.insert(parent);
  });
  auto unrollable = [&](scf::ForOp loop) {
    if (barrierLoops.contains(loop))
      return false;
    bool repeated = false;
    for (Operation *parent = loop->getParentOp(); parent; parent = parent->getParentOp()) {
      if (barrierLoops.contains(parent))
        return false;
      if (auto outer = dyn_cast<scf::ForOp>(parent); outer && !outer.getStaticTripCount())
        repeated = true;
    }
    return repeated;
  };
  SmallVector<scf::ForOp> loops;
  kernel.walk<WalkOrder::PostOrder>([&](scf::ForOp loop) { loops.push_back(loop); }); // inner loops first
  for (scf::ForOp loop : loops) {
    std::optional<APInt> trips = loop.getStaticTripCount();
    if (!trips || trips->getZExtValue() > static_cast<uint64_t>(kMaxTrips) || !unrollable(loop))
      continue;
    int64_t ops = 0;
    loop.getBody()->walk([&](Operation *) { ++ops; });
    if (ops * static_cast<int64_t>(trips->getZExtValue()) <= kMaxUnrolledOps)
      (void)loopUnrollFull(loop);
  }
}

/// With one query row per thread every vector has one lane; single-lane vector loads and stores become
/// scalar ones, which every target converts directly.
void scalarizeSingleLaneAccesses(gpu::GPUFuncOp kernel) {
  SmallVector<Operation *> accesses;
  kernel.walk([&](Operation *op) {
    if (auto load = dyn_cast<vector::LoadOp>(op); load && load.getVectorType().getNumElements() == 1)
      accesses.push_back(op);
    if (auto store = dyn_cast<vector::StoreOp>(op); store && store.getVectorType().getNumElements() == 1)
      accesses.push_back(op);
  });
  for (Operation *op : accesses) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    if (auto load = dyn_cast<vector::LoadOp>(op)) {
      Value scalar = memref::LoadOp::create(b, loc, load.getBase(), load.getIndices());
      load.replaceAllUsesWith(vector::BroadcastOp::create(b, loc, load.getVectorType(), scalar).getResult());
    } else {
      auto store = cast<vector::StoreOp>(op);
      SmallVector<int64_t> zeros(store.getVectorType().getRank(), 0);
      Value scalar = vector::ExtractOp::create(b, loc, store.getValueToStore(), zeros);
      memref::StoreOp::create(b, loc, scalar, store.getBase(), store.getIndices());
    }
    op->erase();
  }
}

/// Positions are i64 in the lowering's scratch; Vulkan kernels compute them in i32 (every extent is below
/// 2^31, which the runtime checks), so the module needs no Int64 capability, which not every device has.
void narrowI64(gpu::GPUFuncOp kernel) {
  auto i32 = IntegerType::get(kernel.getContext(), 32);
  auto narrow = [&](Type type) -> Type {
    if (type.isInteger(64))
      return i32;
    if (auto vector = dyn_cast<VectorType>(type); vector && vector.getElementType().isInteger(64))
      return vector.clone(i32);
    if (auto memref = dyn_cast<MemRefType>(type); memref && memref.getElementType().isInteger(64))
      return MemRefType::get(memref.getShape(), i32, memref.getLayout(), memref.getMemorySpace());
    return type;
  };
  kernel.walk([&](Operation *op) {
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      auto truncate = [](const APInt &value) { return value.trunc(32); };
      if (auto integer = dyn_cast<IntegerAttr>(constant.getValue()); integer && integer.getType().isInteger(64))
        constant.setValueAttr(IntegerAttr::get(i32, truncate(integer.getValue())));
      else if (auto dense = dyn_cast<DenseIntElementsAttr>(constant.getValue());
               dense && dense.getElementType().isInteger(64))
        constant.setValueAttr(dense.mapValues(i32, truncate));
    }
    for (Value result : op->getResults())
      result.setType(narrow(result.getType()));
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          arg.setType(narrow(arg.getType()));
  });
}

class Outliner {
public:
  Outliner(func::FuncOp func, bool vulkan, int64_t workgroupSize)
      : func(func), vulkan(vulkan), workgroupSize(workgroupSize) {}

  LogicalResult run(ModuleOp module);

private:
  LogicalResult checkSignature();
  LogicalResult flattenAccesses(gpu::GPUFuncOp kernel);
  Value linearIndex(OpBuilder &b, Location loc, const OperandLayout &layout, ValueRange indices);

  func::FuncOp func;
  bool vulkan;
  int64_t workgroupSize;
  SmallVector<OperandLayout> operands;
};

LogicalResult Outliner::checkSignature() {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return func.emitError("xf kernel must have a body of one block");
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
    auto memref = dyn_cast<MemRefType>(type);
    if (!memref || !memref.getLayout().isIdentity() || memref.getMemorySpace())
      return func.emitError("GPU kernels take dense row-major memrefs; operand ") << i << " is " << type;
    if (!memref.getElementType().isIntOrFloat())
      return func.emitError("GPU kernel operand ") << i << " has element type " << memref.getElementType();
  }
  return success();
}

Value Outliner::linearIndex(OpBuilder &b, Location loc, const OperandLayout &layout, ValueRange indices) {
  Value linear = indices.empty() ? arith::ConstantIndexOp::create(b, loc, 0).getResult() : indices[0];
  for (size_t d = 1; d < indices.size(); ++d)
    linear = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, linear, layout.extents[d]), indices[d]);
  return linear;
}

/// Rewrites every access to an operand (cloned with the flat buffer standing in for the N-d memref) into
/// an access of the flat buffer at the linear index.
LogicalResult Outliner::flattenAccesses(gpu::GPUFuncOp kernel) {
  for (OperandLayout &layout : operands) {
    for (Operation *user : llvm::make_early_inc_range(layout.flat.getUsers())) {
      OpBuilder b(user);
      Location loc = user->getLoc();
      if (auto load = dyn_cast<memref::LoadOp>(user)) {
        Value index = linearIndex(b, loc, layout, load.getIndices());
        load.replaceAllUsesWith(memref::LoadOp::create(b, loc, layout.flat, index).getResult());
      } else if (auto store = dyn_cast<memref::StoreOp>(user)) {
        Value index = linearIndex(b, loc, layout, store.getIndices());
        memref::StoreOp::create(b, loc, store.getValueToStore(), layout.flat, index);
      } else if (auto load = dyn_cast<vector::LoadOp>(user); load && load.getVectorType().getNumElements() == 1) {
        Value index = linearIndex(b, loc, layout, load.getIndices());
        Value scalar = memref::LoadOp::create(b, loc, layout.flat, index);
        load.replaceAllUsesWith(vector::BroadcastOp::create(b, loc, load.getVectorType(), scalar).getResult());
      } else if (auto store = dyn_cast<vector::StoreOp>(user);
                 store && store.getVectorType().getNumElements() == 1) {
        Value index = linearIndex(b, loc, layout, store.getIndices());
        SmallVector<int64_t> zeros(store.getVectorType().getRank(), 0);
        Value scalar = vector::ExtractOp::create(b, loc, store.getValueToStore(), zeros);
        memref::StoreOp::create(b, loc, scalar, layout.flat, index);
      } else if (auto copy = dyn_cast<nvgpu::DeviceAsyncCopyOp>(user); copy && copy.getSrc() == layout.flat) {
        // The tensor-core form's cp.async from an operand into workgroup memory.
        Value index = linearIndex(b, loc, layout, copy.getSrcIndices());
        auto flatCopy = nvgpu::DeviceAsyncCopyOp::create(b, loc, copy.getDst(), copy.getDstIndices(), layout.flat,
                                                         ValueRange{index}, copy.getDstElementsAttr(),
                                                         copy.getSrcElements(), copy.getBypassL1Attr());
        copy.replaceAllUsesWith(flatCopy.getResult());
      } else if (auto dim = dyn_cast<memref::DimOp>(user)) {
        std::optional<int64_t> which = dim.getConstantIndex();
        if (!which || *which < 0 || *which >= static_cast<int64_t>(layout.sizes.size()))
          return dim.emitError("GPU kernels need memref.dim with a constant, valid dimension");
        dim.replaceAllUsesWith(layout.sizes[*which]);
      } else {
        return user->emitError("GPU kernels access operands only through loads, stores and memref.dim "
                               "(vectors of one element); found ")
               << user->getName();
      }
      user->erase();
    }
    layout.flat.setType(MemRefType::get({ShapedType::kDynamic}, layout.type.getElementType()));
  }
  return success();
}

LogicalResult Outliner::run(ModuleOp module) {
  if (failed(checkSignature()))
    return failure();
  // A kernel whose work items share workgroup memory (xf-lower-attention's staged K/V) fixes its size.
  if (auto required = func->getAttrOfType<IntegerAttr>("xf.workgroup_size")) {
    workgroupSize = required.getInt();
    if (workgroupSize <= 0 || workgroupSize > 1024)
      return func.emitError("xf.workgroup_size must be in [1, 1024], got ") << workgroupSize;
  }
  // A kernel whose consecutive work items are lanes of one subgroup (xf-lower-attention's subgroup form)
  // needs whole groups of them in every workgroup.
  int64_t subgroupLanes = 0;
  if (auto lanes = func->getAttrOfType<IntegerAttr>("xf.subgroup_lanes")) {
    subgroupLanes = lanes.getInt();
    if (subgroupLanes <= 0 || workgroupSize % subgroupLanes)
      return func.emitError("xf.subgroup_lanes (") << subgroupLanes << ") must divide the workgroup size ("
                                                   << workgroupSize << ")";
    // NVVM shuffles of width 32 name the full warp as their members: the lanes of a row must be the warp.
    if (!vulkan && subgroupLanes != 32)
      return func.emitError("CUDA kernels need xf.subgroup_lanes = 32 (a warp), got ") << subgroupLanes;
  }
  FailureOr<scf::ParallelOp> loop = xf::findKernelWorkLoop(func, /*allowAlloc=*/true);
  if (failed(loop))
    return failure();
  scf::ParallelOp par = *loop;
  Block &body = func.getBody().front();
  // Scratch shared by the work items (the tensor-core form's split-K partials): a 1-D f32 alloc of
  // `xf.scratch_words_per_item` words per work item becomes a buffer the runtime provides after the
  // operands, its first `xf.scratch_zeroed_words_per_item` words per item zeroed before each launch. Any
  // other allocation would be per thread on the device.
  memref::AllocOp scratch;
  int64_t scratchWordsPerItem = 0, scratchZeroedWordsPerItem = 0;
  for (auto alloc : body.getOps<memref::AllocOp>()) {
    auto words = alloc->getAttrOfType<IntegerAttr>("xf.scratch_words_per_item");
    auto zeroed = alloc->getAttrOfType<IntegerAttr>("xf.scratch_zeroed_words_per_item");
    if (!words || scratch || words.getInt() <= 0 || alloc.getType().getRank() != 1 ||
        !alloc.getType().getElementType().isF32() ||
        (zeroed && (zeroed.getInt() < 0 || zeroed.getInt() > words.getInt())))
      return alloc.emitError("GPU kernels allocate only one scratch buffer (1-D f32 with a positive "
                             "xf.scratch_words_per_item, of which xf.scratch_zeroed_words_per_item are zeroed)");
    if (vulkan)
      return alloc.emitError("Vulkan kernels take no scratch buffer");
    scratch = alloc;
    scratchWordsPerItem = words.getInt();
    scratchZeroedWordsPerItem = zeroed ? zeroed.getInt() : 0;
  }

  MLIRContext *ctx = func.getContext();
  Location loc = func.getLoc();
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto gpuModule = gpu::GPUModuleOp::create(b, loc, (func.getSymName() + "_gpu").str());
  if (vulkan) {
    // Vulkan 1.1 consumes SPIR-V 1.3; narrowI64 leaves no 64-bit integers. Subgroup shuffles (core in
    // Vulkan 1.1) are converted only when their width is the environment's subgroup size; the xor offsets
    // stay below the lanes of a row, so the kernel runs on any device whose subgroups have that many.
    // 16-bit operands need 16-bit storage buffers (the runtime enables the device feature): f16 as such,
    // bf16 as i16 words (xf-convert-gpu-to-spirv widens and rounds them with integer ops).
    std::string capabilities = subgroupLanes ? "Shader, GroupNonUniformShuffle" : "Shader";
    std::string extensions = "SPV_KHR_storage_buffer_storage_class";
    auto elementOf = [](Type t) { return cast<MemRefType>(t).getElementType(); };
    bool f16 = llvm::any_of(func.getArgumentTypes(), [&](Type t) { return elementOf(t).isF16(); });
    bool bf16 = llvm::any_of(func.getArgumentTypes(), [&](Type t) { return elementOf(t).isBF16(); });
    if (f16 || bf16) {
      capabilities += ", StorageBuffer16BitAccess";
      extensions += ", SPV_KHR_16bit_storage";
    }
    if (f16)
      capabilities += ", Float16";
    if (bf16)
      capabilities += ", Int16";
    std::string limits = subgroupLanes ? "subgroup_size = " + std::to_string(subgroupLanes) : "";
    Attribute env = parseAttribute("#spirv.target_env<#spirv.vce<v1.3, [" + capabilities + "], [" + extensions +
                                       "]>, api=Vulkan, #spirv.resource_limits<" + limits + ">>",
                                   ctx);
    gpuModule->setAttr(spirv::getTargetEnvAttrName(), env);
  }

  // Signature: one buffer per operand, then one i32 per dynamic dimension, then one per pitched one.
  SmallVector<Type> argTypes;
  SmallVector<std::pair<unsigned, unsigned>> dynamicDims;
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
    auto memref = cast<MemRefType>(type);
    argTypes.push_back(MemRefType::get({ShapedType::kDynamic}, memref.getElementType()));
    for (auto [d, size] : llvm::enumerate(memref.getShape()))
      if (ShapedType::isDynamic(size))
        dynamicDims.push_back({static_cast<unsigned>(i), static_cast<unsigned>(d)});
  }
  unsigned numOperands = argTypes.size();
  if (scratch)
    argTypes.push_back(scratch.getType());
  unsigned numBuffers = argTypes.size();
  SmallVector<std::pair<unsigned, unsigned>> pitches = pitchedDims(func);
  argTypes.append(dynamicDims.size() + pitches.size(), b.getI32Type());

  b.setInsertionPointToStart(gpuModule.getBody());
  auto kernel = gpu::GPUFuncOp::create(b, loc, func.getSymName(), b.getFunctionType(argTypes, {}));
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  int32_t size = static_cast<int32_t>(workgroupSize);
  kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({size, 1, 1}));
  if (vulkan) {
    kernel->setAttr(spirv::getEntryPointABIAttrName(), spirv::getEntryPointABIAttr(ctx, {size, 1, 1}));
    for (unsigned i = 0; i < argTypes.size(); ++i) {
      bool scalar = i >= numBuffers;
      kernel.setArgAttr(i, spirv::getInterfaceVarABIAttrName(),
                        spirv::getInterfaceVarABIAttr(scalar ? kPushConstantSet : 0, scalar ? i - numBuffers : i,
                                                      scalar ? std::optional(spirv::StorageClass::StorageBuffer)
                                                             : std::nullopt,
                                                      ctx));
    }
  }

  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
    OperandLayout layout{cast<MemRefType>(type), entry.getArgument(i), {}, {}};
    for (int64_t size : layout.type.getShape())
      layout.sizes.push_back(ShapedType::isDynamic(size) ? Value() : arith::ConstantIndexOp::create(b, loc, size));
    operands.push_back(std::move(layout));
  }
  for (auto [slot, dim] : llvm::enumerate(dynamicDims))
    operands[dim.first].sizes[dim.second] =
        arith::IndexCastOp::create(b, loc, b.getIndexType(), entry.getArgument(numBuffers + slot));
  for (OperandLayout &layout : operands)
    layout.extents = layout.sizes;
  for (auto [slot, dim] : llvm::enumerate(pitches))
    operands[dim.first].extents[dim.second] = arith::IndexCastOp::create(
        b, loc, b.getIndexType(), entry.getArgument(numBuffers + dynamicDims.size() + slot));

  // The setup (item count, shapes) and then the loop body, guarded, with the item from the thread id.
  IRMapping map;
  for (auto [i, arg] : llvm::enumerate(func.getArguments()))
    map.map(arg, entry.getArgument(i));
  if (scratch)
    map.map(scratch.getResult(), entry.getArgument(numOperands));
  for (Operation &op : body) {
    if (&op == par.getOperation())
      break;
    if (&op != scratch.getOperation())
      b.clone(op, map);
  }
  Value block = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value item = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, block, arith::ConstantIndexOp::create(b, loc, workgroupSize)), thread);
  Value iv = arith::AddIOp::create(
      b, loc, map.lookupOrDefault(par.getLowerBound()[0]),
      arith::MulIOp::create(b, loc, item, map.lookupOrDefault(par.getStep()[0])));
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, iv, map.lookupOrDefault(par.getUpperBound()[0]));
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  map.map(par.getInductionVars()[0], iv);
  b.setInsertionPointToStart(guard.thenBlock());
  for (Operation &op : par.getBody()->without_terminator())
    b.clone(op, map);
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b, loc);

  if (failed(flattenAccesses(kernel)) || (vulkan && failed(scalarizeConstantTables(kernel))))
    return failure();
  scalarizeSingleLaneAccesses(kernel);
  unrollConstantLoops(kernel);
  if (vulkan) {
    guardZeroTripLoops(kernel);
    narrowI64(kernel);
  }

  // SPIR-V wants every Function-storage variable at the top of the entry block; one thread runs one item,
  // so hoisting the item's scratch there changes nothing.
  SmallVector<memref::AllocaOp> allocas;
  kernel.walk([&](memref::AllocaOp alloca) { allocas.push_back(alloca); });
  for (memref::AllocaOp alloca : allocas) {
    if (alloca->getNumOperands())
      return alloca.emitError("GPU kernel scratch must have a static size");
    alloca->moveBefore(&entry.front());
    if (vulkan) {
      if (alloca.getType().getElementType().isIndex() && failed(narrowIndexScratch(alloca)))
        return failure();
      MemRefType type = alloca.getType();
      auto privateType = MemRefType::get(type.getShape(), type.getElementType(), type.getLayout(),
                                         spirv::StorageClassAttr::get(ctx, spirv::StorageClass::Function));
      alloca.getResult().setType(privateType);
    }
  }

  // Workgroup buffers (memref.alloc in #gpu.address_space<workgroup>) exist once per workgroup. SPIR-V
  // takes them as allocs, which become Workgroup variables; the NVVM conversion as workgroup
  // attributions, which become .shared globals.
  SmallVector<memref::AllocOp> shared;
  kernel.walk([&](memref::AllocOp alloc) {
    auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(alloc.getType().getMemorySpace());
    if (space && space.getValue() == gpu::AddressSpace::Workgroup)
      shared.push_back(alloc);
  });
  int64_t workgroupBytes = 0; // the runtime checks it against the device
  for (memref::AllocOp alloc : shared) {
    if (alloc->getNumOperands() || !alloc.getType().hasStaticShape())
      return alloc.emitError("GPU workgroup buffers must have a static size");
    workgroupBytes += alloc.getType().getNumElements() * alloc.getType().getElementTypeBitWidth() / 8;
    if (vulkan) {
      MemRefType type = alloc.getType();
      alloc.getResult().setType(MemRefType::get(type.getShape(), type.getElementType(), type.getLayout(),
                                                spirv::StorageClassAttr::get(ctx, spirv::StorageClass::Workgroup)));
      alloc->moveBefore(&entry.front());
      continue;
    }
    BlockArgument buffer = kernel.addWorkgroupAttribution(alloc.getType(), alloc.getLoc());
    // 16-byte aligned: the tensor-core form's cp.async copies write 16 bytes at a time.
    kernel.setWorkgroupAttributionAttr(kernel.getNumWorkgroupAttributions() - 1, "llvm.align",
                                       b.getI64IntegerAttr(std::max<int64_t>(16, alloc.getAlignment().value_or(1))));
    alloc.replaceAllUsesWith(buffer);
    alloc.erase();
  }

  SmallVector<Attribute> pushConstants;
  for (auto [operand, dim] : dynamicDims)
    pushConstants.push_back(b.getDenseI64ArrayAttr({operand, dim}));
  NamedAttrList info;
  info.set("entry", b.getStringAttr(func.getSymName()));
  info.set("workgroup_size", b.getI64IntegerAttr(workgroupSize));
  info.set("push_constants", b.getArrayAttr(pushConstants));
  if (!pitches.empty()) {
    SmallVector<Attribute> pitchSlots;
    for (auto [operand, dim] : pitches)
      pitchSlots.push_back(b.getDenseI64ArrayAttr({operand, dim}));
    info.set("pitches", b.getArrayAttr(pitchSlots));
  }
  if (scratch) {
    info.set("scratch_words_per_item", b.getI64IntegerAttr(scratchWordsPerItem));
    info.set("scratch_zeroed_words_per_item", b.getI64IntegerAttr(scratchZeroedWordsPerItem));
  }
  // The buffers before the output are read-only (xf-cuda-kernel-noalias); the output and scratch are written.
  kernel->setAttr("xf.read_only_buffers", b.getI64IntegerAttr(numOperands - 1));
  if (subgroupLanes) {
    info.set("subgroup_lanes", b.getI64IntegerAttr(subgroupLanes));
    if (auto rows = func->getAttrOfType<IntegerAttr>("xf.subgroup_rows"))
      info.set("subgroup_rows", rows);
  }
  // Barriers inside a loop (attention's staged K/V) keep that loop and the loops in it from unrolling; the
  // runtime bounds what such a kernel may run on llvmpipe. A barrier outside loops (the subgroup form's
  // split combine) does not.
  if (kernel.walk([](gpu::BarrierOp barrier) {
               return barrier->getParentOfType<scf::ForOp>() ? WalkResult::interrupt() : WalkResult::advance();
             }).wasInterrupted())
    info.set("barrier_loops", b.getI64IntegerAttr(1));
  if (workgroupBytes)
    info.set("workgroup_memory", b.getI64IntegerAttr(workgroupBytes));
  func->setAttr("xf.gpu_kernel", info.getDictionary(ctx));
  return success();
}

struct GpuOutlineKernelsPass : public xf::impl::XFGpuOutlineKernelsBase<GpuOutlineKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (target != "vulkan" && target != "cuda") {
      module.emitError("xf-gpu-outline-kernels: target must be vulkan or cuda, got '") << target << "'";
      return signalPassFailure();
    }
    if (workgroupSize <= 0 || workgroupSize > 1024) {
      module.emitError("xf-gpu-outline-kernels: workgroup-size must be in [1, 1024], got ") << workgroupSize;
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> kernels;
    module.walk([&](func::FuncOp f) {
      if (f->hasAttr("xf.kernel"))
        kernels.push_back(f);
    });
    if (kernels.empty())
      return;
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), UnitAttr::get(module.getContext()));
    for (func::FuncOp func : kernels)
      if (failed(Outliner(func, target == "vulkan", workgroupSize).run(module)))
        return signalPassFailure();
  }
};

} // namespace
