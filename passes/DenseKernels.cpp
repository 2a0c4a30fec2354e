//===- DenseKernels.cpp - the dense ops of a model as GPU-ready kernels ---===//
//
// The CPU runs a model's dense ops with Halide kernels; GPU targets need them as xf kernels that take the
// same pipeline as attention. They are written here in their lowered form (memrefs, one scf.parallel; one
// work item per output element or row, except the products, whose items are subgroup lanes or workgroup
// tiles), shape-generic, so one copy serves every layer and model.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Parser/Parser.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFADDDENSEKERNELS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

// Token ids arrive as f32 (exact below 2^24). The products are generated below (matmulKernel,
// tiledMatmulKernel).
constexpr const char *kDenseKernels = R"mlir(
func.func @xf_dense_rms_norm(%x: memref<?x?xf32>, %w: memref<?xf32>, %params: memref<2xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_rms_norm"}, xf.operand_names = ["input", "weight", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %rows = memref.dim %x, %c0 : memref<?x?xf32>
  %cols = memref.dim %x, %c1 : memref<?x?xf32>
  %colsI = arith.index_cast %cols : index to i32
  %colsF = arith.sitofp %colsI : i32 to f32
  scf.parallel (%r) = (%c0) to (%rows) step (%c1) {
    %eps = memref.load %params[%c0] : memref<2xf32>
    %offset = memref.load %params[%c1] : memref<2xf32>
    %ss = scf.for %c = %c0 to %cols step %c1 iter_args(%acc = %zero) -> f32 {
      %v = memref.load %x[%r, %c] : memref<?x?xf32>
      %p = math.fma %v, %v, %acc : f32
      scf.yield %p : f32
    }
    %mean = arith.divf %ss, %colsF : f32
    %shifted = arith.addf %mean, %eps : f32
    %inv = math.rsqrt %shifted : f32
    scf.for %c = %c0 to %cols step %c1 {
      %v = memref.load %x[%r, %c] : memref<?x?xf32>
      %g = memref.load %w[%c] : memref<?xf32>
      %gain = arith.addf %g, %offset : f32
      %n = arith.mulf %v, %inv : f32
      %o = arith.mulf %n, %gain : f32
      memref.store %o, %y[%r, %c] : memref<?x?xf32>
    }
    scf.reduce
  }
  return
}

// nn.LayerNorm of each row: (x - mean) / sqrt(var + eps) * (offset + w) + b, var the mean squared deviation
// (params [eps, offset]: offset 1 for gains stored minus one, Nemotron's LayerNorm1P).
func.func @xf_dense_layer_norm(%x: memref<?x?xf32>, %w: memref<?xf32>, %b: memref<?xf32>, %params: memref<2xf32>,
                               %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_layer_norm"}, xf.operand_names = ["input", "weight", "bias", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %rows = memref.dim %x, %c0 : memref<?x?xf32>
  %cols = memref.dim %x, %c1 : memref<?x?xf32>
  %colsI = arith.index_cast %cols : index to i32
  %colsF = arith.sitofp %colsI : i32 to f32
  scf.parallel (%r) = (%c0) to (%rows) step (%c1) {
    %eps = memref.load %params[%c0] : memref<2xf32>
    %offset = memref.load %params[%c1] : memref<2xf32>
    %sum = scf.for %c = %c0 to %cols step %c1 iter_args(%acc = %zero) -> f32 {
      %v = memref.load %x[%r, %c] : memref<?x?xf32>
      %s = arith.addf %acc, %v : f32
      scf.yield %s : f32
    }
    %mean = arith.divf %sum, %colsF : f32
    %ss = scf.for %c = %c0 to %cols step %c1 iter_args(%acc = %zero) -> f32 {
      %v = memref.load %x[%r, %c] : memref<?x?xf32>
      %d = arith.subf %v, %mean : f32
      %p = math.fma %d, %d, %acc : f32
      scf.yield %p : f32
    }
    %var = arith.divf %ss, %colsF : f32
    %shifted = arith.addf %var, %eps : f32
    %inv = math.rsqrt %shifted : f32
    scf.for %c = %c0 to %cols step %c1 {
      %v = memref.load %x[%r, %c] : memref<?x?xf32>
      %w0 = memref.load %w[%c] : memref<?xf32>
      %g = arith.addf %w0, %offset : f32
      %bb = memref.load %b[%c] : memref<?xf32>
      %d = arith.subf %v, %mean : f32
      %n = arith.mulf %d, %inv : f32
      %o = math.fma %n, %g, %bb : f32
      memref.store %o, %y[%r, %c] : memref<?x?xf32>
    }
    scf.reduce
  }
  return
}

func.func @xf_dense_add(%a: memref<?xf32>, %b: memref<?xf32>, %y: memref<?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_add"}, xf.operand_names = ["lhs", "rhs", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %x = memref.load %a[%i] : memref<?xf32>
    %z = memref.load %b[%i] : memref<?xf32>
    %o = arith.addf %x, %z : f32
    memref.store %o, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}

func.func @xf_dense_embed(%ids: memref<?xf32>, %table: memref<?x?xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_embed"}, xf.operand_names = ["ids", "table", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %s = memref.dim %ids, %c0 : memref<?xf32>
  %cols = memref.dim %table, %c1 : memref<?x?xf32>
  %items = arith.muli %s, %cols : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %t = arith.divui %i, %cols : index
    %c = arith.remui %i, %cols : index
    %idF = memref.load %ids[%t] : memref<?xf32>
    %idI = arith.fptosi %idF : f32 to i32
    %id = arith.index_cast %idI : i32 to index
    %v = memref.load %table[%id, %c] : memref<?x?xf32>
    memref.store %v, %y[%t, %c] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// Rotate-half RoPE on the first R dims of [S, H, D] (R = 2 * the tables' width; R < D is partial rotary,
// the other dims pass through): pairs (i, i + R/2) turn by the angle whose cosine and sine the runtime
// tabulates per token ([S, R/2], computed in double: GPU sin/cos are too coarse at large angles).
func.func @xf_dense_rope(%x: memref<?x?x?xf32>, %cosines: memref<?x?xf32>, %sines: memref<?x?xf32>, %y: memref<?x?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_rope"}, xf.operand_names = ["input", "cos", "sin", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %s = memref.dim %x, %c0 : memref<?x?x?xf32>
  %h = memref.dim %x, %c1 : memref<?x?x?xf32>
  %d = memref.dim %x, %c2 : memref<?x?x?xf32>
  %half = memref.dim %cosines, %c1 : memref<?x?xf32>
  // Per (token, head): half rotations and d - 2 * half copies.
  %perHead = arith.subi %d, %half : index
  %perToken = arith.muli %h, %perHead : index
  %items = arith.muli %s, %perToken : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %t = arith.divui %i, %perToken : index
    %rest = arith.remui %i, %perToken : index
    %head = arith.divui %rest, %perHead : index
    %j = arith.remui %rest, %perHead : index
    %rotates = arith.cmpi ult, %j, %half : index
    scf.if %rotates {
      %jj = arith.addi %j, %half : index
      %cos = memref.load %cosines[%t, %j] : memref<?x?xf32>
      %sin = memref.load %sines[%t, %j] : memref<?x?xf32>
      %a = memref.load %x[%t, %head, %j] : memref<?x?x?xf32>
      %b = memref.load %x[%t, %head, %jj] : memref<?x?x?xf32>
      %ac = arith.mulf %a, %cos : f32
      %bs = arith.mulf %b, %sin : f32
      %lo = arith.subf %ac, %bs : f32
      %bc = arith.mulf %b, %cos : f32
      %as = arith.mulf %a, %sin : f32
      %hi = arith.addf %bc, %as : f32
      memref.store %lo, %y[%t, %head, %j] : memref<?x?x?xf32>
      memref.store %hi, %y[%t, %head, %jj] : memref<?x?x?xf32>
    } else {
      %k = arith.addi %j, %half : index
      %v = memref.load %x[%t, %head, %k] : memref<?x?x?xf32>
      memref.store %v, %y[%t, %head, %k] : memref<?x?x?xf32>
    }
    scf.reduce
  }
  return
}
// x[M, N] + bias[N] (projection biases).
func.func @xf_dense_bias_add(%x: memref<?x?xf32>, %bias: memref<?xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_bias_add"}, xf.operand_names = ["input", "bias", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %x, %c0 : memref<?x?xf32>
  %n = memref.dim %x, %c1 : memref<?x?xf32>
  %items = arith.muli %m, %n : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %n : index
    %col = arith.remui %i, %n : index
    %v = memref.load %x[%row, %col] : memref<?x?xf32>
    %b = memref.load %bias[%col] : memref<?xf32>
    %o = arith.addf %v, %b : f32
    memref.store %o, %y[%row, %col] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// x * factor[0] (embedding scaling).
func.func @xf_dense_scale(%x: memref<?xf32>, %factor: memref<1xf32>, %y: memref<?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_scale"}, xf.operand_names = ["input", "factor", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %f = memref.load %factor[%c0] : memref<1xf32>
    %v = memref.load %x[%i] : memref<?xf32>
    %o = arith.mulf %v, %f : f32
    memref.store %o, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}
// y[t, c] += sigmoid(gate[t, 0]) * x[t, c]: Qwen2-MoE's shared expert, gated per token, added to the
// routed experts' sum.
func.func @xf_dense_gated_rows_acc(%x: memref<?x?xf32>, %g: memref<?x?xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_gated_rows_acc"}, xf.operand_names = ["input", "gate", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  %m = memref.dim %x, %c0 : memref<?x?xf32>
  %n = memref.dim %x, %c1 : memref<?x?xf32>
  %items = arith.muli %m, %n : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %n : index
    %col = arith.remui %i, %n : index
    %v = memref.load %x[%row, %col] : memref<?x?xf32>
    %z = memref.load %g[%row, %c0] : memref<?x?xf32>
    %nz = arith.negf %z : f32
    %e = math.exp %nz : f32
    %d = arith.addf %one, %e : f32
    %w = arith.divf %one, %d : f32
    %acc = memref.load %y[%row, %col] : memref<?x?xf32>
    %o = math.fma %w, %v, %acc : f32
    memref.store %o, %y[%row, %col] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// y[t, c] += x[t, c]: a shared expert without a gate, added to the routed experts' sum.
func.func @xf_dense_rows_acc(%x: memref<?x?xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_rows_acc"}, xf.operand_names = ["input", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %x, %c0 : memref<?x?xf32>
  %n = memref.dim %x, %c1 : memref<?x?xf32>
  %items = arith.muli %m, %n : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %n : index
    %col = arith.remui %i, %n : index
    %v = memref.load %x[%row, %col] : memref<?x?xf32>
    %acc = memref.load %y[%row, %col] : memref<?x?xf32>
    %o = arith.addf %acc, %v : f32
    memref.store %o, %y[%row, %col] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// RMSNorm in place of columns [first, first + N) of every row, N the gain's size (params [eps, offset,
// first, center], `offset` added to the gain), or with `center` 1 a LayerNorm without bias (the mean
// subtracted; 0 subtracts 0, leaving the RMSNorm's values as they were): OLMo 2's q and k norms over their
// whole projections, inside the fused q | k | v rows.
func.func @xf_dense_rms_norm_cols(%w: memref<?xf32>, %params: memref<4xf32>, %x: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_rms_norm_cols"}, xf.operand_names = ["weight", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %rows = memref.dim %x, %c0 : memref<?x?xf32>
  %n = memref.dim %w, %c0 : memref<?xf32>
  %nI = arith.index_cast %n : index to i32
  %nF = arith.sitofp %nI : i32 to f32
  scf.parallel (%r) = (%c0) to (%rows) step (%c1) {
    %eps = memref.load %params[%c0] : memref<4xf32>
    %offset = memref.load %params[%c1] : memref<4xf32>
    %firstF = memref.load %params[%c2] : memref<4xf32>
    %center = memref.load %params[%c3] : memref<4xf32>
    %firstI = arith.fptosi %firstF : f32 to i32
    %first = arith.index_cast %firstI : i32 to index
    %sum = scf.for %c = %c0 to %n step %c1 iter_args(%acc = %zero) -> f32 {
      %cc = arith.addi %first, %c : index
      %v = memref.load %x[%r, %cc] : memref<?x?xf32>
      %sv = arith.addf %acc, %v : f32
      scf.yield %sv : f32
    }
    %average = arith.divf %sum, %nF : f32
    %mu = arith.mulf %average, %center : f32
    %ss = scf.for %c = %c0 to %n step %c1 iter_args(%acc = %zero) -> f32 {
      %cc = arith.addi %first, %c : index
      %v = memref.load %x[%r, %cc] : memref<?x?xf32>
      %dv = arith.subf %v, %mu : f32
      %p = math.fma %dv, %dv, %acc : f32
      scf.yield %p : f32
    }
    %mean = arith.divf %ss, %nF : f32
    %shifted = arith.addf %mean, %eps : f32
    %inv = math.rsqrt %shifted : f32
    scf.for %c = %c0 to %n step %c1 {
      %cc = arith.addi %first, %c : index
      %v = memref.load %x[%r, %cc] : memref<?x?xf32>
      %g = memref.load %w[%c] : memref<?xf32>
      %gain = arith.addf %g, %offset : f32
      %zv = arith.subf %v, %mu : f32
      %nv = arith.mulf %zv, %inv : f32
      %o = arith.mulf %nv, %gain : f32
      memref.store %o, %x[%r, %cc] : memref<?x?xf32>
    }
    scf.reduce
  }
  return
}
// Columns [offset, offset + C) of every row (params [offset], exact in f32 below 2^24): q, k or v of a
// fused projection's output, without the host.
func.func @xf_dense_slice_cols(%x: memref<?x?xf32>, %params: memref<1xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_slice_cols"}, xf.operand_names = ["input", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %m = memref.dim %y, %c0 : memref<?x?xf32>
  %cols = memref.dim %y, %c1 : memref<?x?xf32>
  %items = arith.muli %m, %cols : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %cols : index
    %col = arith.remui %i, %cols : index
    %offF = memref.load %params[%c0] : memref<1xf32>
    %offI = arith.fptosi %offF : f32 to i32
    %off = arith.index_cast %offI : i32 to index
    %from = arith.addi %off, %col : index
    %v = memref.load %x[%row, %from] : memref<?x?xf32>
    memref.store %v, %y[%row, %col] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// Latent attention's q | k | v rows y [S, H * D + H * D + H * Dv], the layout of a fused projection, from
// q [S, H * D], the latent projection c [S, rank + R] (its last R columns the rotated key dims every head
// shares) and kv_b_proj's output kv [S, H * nope | H * Dv]: a head of k is c's R dims, then its own nope =
// D - R dims. params [rank, D] (exact in f32 below 2^24).
func.func @xf_dense_latent_qkv(%q: memref<?x?xf32>, %c: memref<?x?xf32>, %kv: memref<?x?xf32>, %params: memref<2xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_latent_qkv"}, xf.operand_names = ["query", "latent", "keys_values", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = memref.dim %y, %c0 : memref<?x?xf32>
  %width = memref.dim %y, %c1 : memref<?x?xf32>
  %qw = memref.dim %q, %c1 : memref<?x?xf32>
  %cw = memref.dim %c, %c1 : memref<?x?xf32>
  %items = arith.muli %rows, %width : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %rankF = memref.load %params[%c0] : memref<2xf32>
    %dF = memref.load %params[%c1] : memref<2xf32>
    %rankI = arith.fptosi %rankF : f32 to i32
    %dI = arith.fptosi %dF : f32 to i32
    %rank = arith.index_cast %rankI : i32 to index
    %d = arith.index_cast %dI : i32 to index
    %r = arith.subi %cw, %rank : index
    %nope = arith.subi %d, %r : index
    %heads = arith.divui %qw, %d : index
    %keyCols = arith.muli %heads, %nope : index
    %row = arith.divui %i, %width : index
    %col = arith.remui %i, %width : index
    %isQ = arith.cmpi ult, %col, %qw : index
    %v = scf.if %isQ -> (f32) {
      %x = memref.load %q[%row, %col] : memref<?x?xf32>
      scf.yield %x : f32
    } else {
      %col2 = arith.subi %col, %qw : index
      %isK = arith.cmpi ult, %col2, %qw : index
      %kvv = scf.if %isK -> (f32) {
        %head = arith.divui %col2, %d : index
        %dim = arith.remui %col2, %d : index
        %rotated = arith.cmpi ult, %dim, %r : index
        %kx = scf.if %rotated -> (f32) {
          %at = arith.addi %rank, %dim : index
          %x = memref.load %c[%row, %at] : memref<?x?xf32>
          scf.yield %x : f32
        } else {
          %base = arith.muli %head, %nope : index
          %own = arith.subi %dim, %r : index
          %at = arith.addi %base, %own : index
          %x = memref.load %kv[%row, %at] : memref<?x?xf32>
          scf.yield %x : f32
        }
        scf.yield %kx : f32
      } else {
        %col3 = arith.subi %col2, %qw : index
        %at = arith.addi %keyCols, %col3 : index
        %x = memref.load %kv[%row, %at] : memref<?x?xf32>
        scf.yield %x : f32
      }
      scf.yield %kvv : f32
    }
    memref.store %v, %y[%row, %col] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// [A, B, C] -> [B, A, C]: tokens-major rows to heads-major (attention's [H, S, D]) and back.
func.func @xf_dense_transpose01(%x: memref<?x?x?xf32>, %y: memref<?x?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_transpose01"}, xf.operand_names = ["input", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %a = memref.dim %x, %c0 : memref<?x?x?xf32>
  %b = memref.dim %x, %c1 : memref<?x?x?xf32>
  %c = memref.dim %x, %c2 : memref<?x?x?xf32>
  %ab = arith.muli %a, %b : index
  %items = arith.muli %ab, %c : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %k = arith.remui %i, %c : index
    %rest = arith.divui %i, %c : index
    %ai = arith.remui %rest, %a : index
    %bi = arith.divui %rest, %a : index
    %v = memref.load %x[%ai, %bi, %k] : memref<?x?x?xf32>
    memref.store %v, %y[%bi, %ai, %k] : memref<?x?x?xf32>
    scf.reduce
  }
  return
}

// x + bias[routes[r, 0]] per row r: each expert's own bias.
func.func @xf_dense_bias_add_routed(%x: memref<?x?xf32>, %bias: memref<?x?xf32>, %routes: memref<?x2xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_bias_add_routed"}, xf.operand_names = ["input", "bias", "routes", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = memref.dim %x, %c0 : memref<?x?xf32>
  %n = memref.dim %x, %c1 : memref<?x?xf32>
  %experts = memref.dim %bias, %c0 : memref<?x?xf32>
  %lastE = arith.subi %experts, %c1 : index
  %items = arith.muli %r, %n : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %n : index
    %col = arith.remui %i, %n : index
    %eF = memref.load %routes[%row, %c0] : memref<?x2xf32>
    %eI = arith.fptosi %eF : f32 to i32
    %eR = arith.index_cast %eI : i32 to index
    %ex = arith.minui %eR, %lastE : index
    %v = memref.load %x[%row, %col] : memref<?x?xf32>
    %b = memref.load %bias[%ex, %col] : memref<?x?xf32>
    %o = arith.addf %v, %b : f32
    memref.store %o, %y[%row, %col] : memref<?x?xf32>
    scf.reduce
  }
  return
}
)mlir";

/// The MoE combine: out[t] = sum over k of routes[t * K + k, 1] * y[t * K + k], K = rows of y / rows of
/// out; with `accumulate` (`_acc`) added to out (a residual in the epilogue, as the `_acc` products).
std::string moeCombineKernel(bool accumulate) {
  const std::string acc = accumulate ? "_acc" : "";
  const std::string store =
      accumulate ? "    %old = memref.load %out[%t, %col] : memref<?x?xf32>\n    %total = arith.addf %old, %sum : f32\n"
                   "    memref.store %total, %out[%t, %col] : memref<?x?xf32>\n"
                 : "    memref.store %sum, %out[%t, %col] : memref<?x?xf32>\n";
  return "\nfunc.func @xf_dense_moe_combine" + acc +
         "(%y: memref<?x?xf32>, %routes: memref<?x2xf32>, %out: memref<?x?xf32>) attributes {\n    xf.kernel, "
         "xf.kernel_info = {kind = \"dense_moe_combine" + acc +
         "\"}, xf.operand_names = [\"input\", \"routes\", \"output\"]} {\n" + R"mlir(  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %r = memref.dim %y, %c0 : memref<?x?xf32>
  %s = memref.dim %out, %c0 : memref<?x?xf32>
  %n = memref.dim %out, %c1 : memref<?x?xf32>
  %s1 = arith.maxui %s, %c1 : index
  %k = arith.divui %r, %s1 : index
  %items = arith.muli %s, %n : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %t = arith.divui %i, %n : index
    %col = arith.remui %i, %n : index
    %base = arith.muli %t, %k : index
    %sum = scf.for %j = %c0 to %k step %c1 iter_args(%acc = %zero) -> f32 {
      %row = arith.addi %base, %j : index
      %w = memref.load %routes[%row, %c1] : memref<?x2xf32>
      %v = memref.load %y[%row, %col] : memref<?x?xf32>
      %p = math.fma %w, %v, %acc : f32
      scf.yield %p : f32
    }
)mlir" + store + R"mlir(    scf.reduce
  }
  return
}
)mlir";
}

/// Indents each line of `text` by `indent` spaces.
std::string indented(StringRef text, unsigned indent) {
  std::string out;
  SmallVector<StringRef> lines;
  text.split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (StringRef line : lines)
    out += std::string(indent, ' ') + line.str() + "\n";
  return out;
}

/// `text` with each `$name` of `values` replaced.
std::string substitute(std::string text, std::initializer_list<std::pair<StringRef, StringRef>> values) {
  for (auto [name, value] : values)
    for (size_t at = text.find(name.str()); at != std::string::npos; at = text.find(name.str(), at + value.size()))
      text.replace(at, name.size(), value.str());
  return text;
}

/// Inside a loop over expert %x: whether value %v (of expert %x) comes after the previous choice (%prevV,
/// %prevI) in (value descending, expert ascending) order and beats the best so far (%bv, %bi; none while %bi
/// < 0): %take. Choice k is then the best after choice k - 1, so no list of chosen experts is kept.
constexpr const char *kNextChoice = R"mlir(%lt = arith.cmpf olt, %v, %prevV : f32
%eq = arith.cmpf oeq, %v, %prevV : f32
%after = arith.cmpi sgt, %x, %prevI : index
%tieAfter = arith.andi %eq, %after : i1
%below = arith.ori %lt, %tieAfter : i1
%unset = arith.cmpi slt, %bi, %c0 : index
%gt = arith.cmpf ogt, %v, %bv : f32
%better = arith.ori %unset, %gt : i1
%take = arith.andi %below, %better : i1
)mlir";

/// MoE routing on the device. Routes are [S * K, 2]: per token t and choice k (row t * K + k) the expert
/// (as f32, exact) and its weight. Top-k by logit, ties to the lower expert (as torch.topk), then a softmax
/// over the chosen logits. One work item per token: choice k is the best expert after choice k - 1 in
/// (logit descending, expert ascending) order, so no list of chosen experts is kept. params [K, norm]:
/// norm 0 divides by the softmax denominator over all experts instead (Qwen3-MoE's norm_topk_prob = false).
std::string topKSoftmaxKernel() {
  return std::string(R"mlir(
func.func @xf_dense_topk_softmax(%lg: memref<?x?xf32>, %params: memref<2xf32>, %routes: memref<?x2xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_topk_softmax"}, xf.operand_names = ["input", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %inf = arith.constant 0x7F800000 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %none = arith.constant -1 : index
  %s = memref.dim %lg, %c0 : memref<?x?xf32>
  %e = memref.dim %lg, %c1 : memref<?x?xf32>
  scf.parallel (%t) = (%c0) to (%s) step (%c1) {
    %kF = memref.load %params[%c0] : memref<2xf32>
    %kI = arith.fptosi %kF : f32 to i32
    %k = arith.index_cast %kI : i32 to index
    %base = arith.muli %t, %k : index
    // Choices, their logits parked in the weight column, the maximum and the softmax denominator.
    %picked:4 = scf.for %j = %c0 to %k step %c1 iter_args(%prevV = %inf, %prevI = %none, %mx = %zero, %sum = %zero)
        -> (f32, index, f32, f32) {
      %best:2 = scf.for %x = %c0 to %e step %c1 iter_args(%bv = %ninf, %bi = %none) -> (f32, index) {
        %v = memref.load %lg[%t, %x] : memref<?x?xf32>
)mlir") +
         indented(kNextChoice, 8) + R"mlir(        %nv = arith.select %take, %v, %bv : f32
        %ni = arith.select %take, %x, %bi : index
        scf.yield %nv, %ni : f32, index
      }
      %first = arith.cmpi eq, %j, %c0 : index
      %m = arith.select %first, %best#0, %mx : f32
      %d = arith.subf %best#0, %m : f32
      %p = math.exp %d : f32
      %nsum = arith.addf %sum, %p : f32
      %row = arith.addi %base, %j : index
      %biI = arith.index_cast %best#1 : index to i32
      %biF = arith.sitofp %biI : i32 to f32
      memref.store %biF, %routes[%row, %c0] : memref<?x2xf32>
      memref.store %best#0, %routes[%row, %c1] : memref<?x2xf32>
      scf.yield %best#0, %best#1, %m, %nsum : f32, index, f32, f32
    }
    %normF = memref.load %params[%c1] : memref<2xf32>
    %norm = arith.cmpf one, %normF, %zero : f32
    %den = scf.if %norm -> (f32) {
      scf.yield %picked#3 : f32
    } else {
      %all = scf.for %x = %c0 to %e step %c1 iter_args(%acc = %zero) -> (f32) {
        %v = memref.load %lg[%t, %x] : memref<?x?xf32>
        %d = arith.subf %v, %picked#2 : f32
        %p = math.exp %d : f32
        %nacc = arith.addf %acc, %p : f32
        scf.yield %nacc : f32
      }
      scf.yield %all : f32
    }
    scf.for %j = %c0 to %k step %c1 {
      %row = arith.addi %base, %j : index
      %v = memref.load %routes[%row, %c1] : memref<?x2xf32>
      %d = arith.subf %v, %picked#2 : f32
      %p = math.exp %d : f32
      %w = arith.divf %p, %den : f32
      memref.store %w, %routes[%row, %c1] : memref<?x2xf32>
    }
    scf.reduce
  }
  return
}
)mlir";
}

/// Inside a loop over expert %x of token %t: its score %sg (the sigmoid of its logit, or with %softmax its
/// softmax with the row's %mx and %total) and its choice score %c (plus its selection bias).
constexpr const char *kExpertScore = R"mlir(%l = memref.load %lg[%t, %x] : memref<?x?xf32>
%nl = arith.negf %l : f32
%ex = math.exp %nl : f32
%den = arith.addf %one, %ex : f32
%sig = arith.divf %one, %den : f32
%dl = arith.subf %l, %mx : f32
%el = math.exp %dl : f32
%soft = arith.divf %el, %total : f32
%sg = arith.select %softmax, %soft, %sig : f32
%bb = memref.load %bias[%x] : memref<?xf32>
%c = arith.addf %sg, %bb : f32
)mlir";

/// The sum of the two largest choice scores of the experts of group $group into $name, each expert scored by
/// kExpertScore; $id keeps the loop's SSA names apart from another such sum in the same region.
constexpr const char *kGroupTopTwo = R"mlir(%lo$id = arith.muli $group, %per : index
%hi$id = arith.addi %lo$id, %per : index
%top$id:2 = scf.for %x = %lo$id to %hi$id step %c1 iter_args(%a = %ninf, %b = %ninf) -> (f32, f32) {
$score  %gtA = arith.cmpf ogt, %c, %a : f32
  %gtB = arith.cmpf ogt, %c, %b : f32
  %na = arith.select %gtA, %c, %a : f32
  %nb0 = arith.select %gtB, %c, %b : f32
  %nb = arith.select %gtA, %a, %nb0 : f32
  scf.yield %na, %nb : f32, f32
}
$name = arith.addf %top$id#0, %top$id#1 : f32
)mlir";

std::string groupTopTwo(StringRef group, StringRef name, StringRef id, unsigned indent) {
  const std::string score = indented(kExpertScore, 2);
  return indented(substitute(kGroupTopTwo, {{"$id", id}, {"$group", group}, {"$name", name}, {"$score", score}}),
                  indent);
}

/// Scored MoE routing on the device (GLM-4.5, DeepSeek-V3, ERNIE 4.5), routes as xf_dense_topk_softmax's.
/// Expert x scores s = sigmoid(logit), or with softmax 1 the softmax over all experts, and chooses by
/// c = s + bias[x]; each of the equal groups is scored by its two largest c, and the experts outside the
/// top_groups best groups (ties: the lower group) choose with c = 0. Choice k is the best expert after choice
/// k - 1 in (c descending, expert ascending) order; its weight is s / max(sum of the chosen s + eps, norm_min)
/// (eps 1e-20 for sigmoid scores, 0 for softmax ones; s alone with norm 0) times scale. params [K, norm,
/// groups, top_groups, scale, softmax, norm_min]; the kept groups are bits of a 32-bit mask (at most 32
/// groups), a group kept when fewer than top_groups rank ahead of it.
std::string scoredRoutingKernel() {
  return std::string(R"mlir(
func.func @xf_dense_topk_scored(%lg: memref<?x?xf32>, %bias: memref<?xf32>, %params: memref<7xf32>, %routes: memref<?x2xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_topk_scored"}, xf.operand_names = ["input", "bias", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %c6 = arith.constant 6 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %tiny = arith.constant 1.0e-20 : f32
  %inf = arith.constant 0x7F800000 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %none = arith.constant -1 : index
  %m0 = arith.constant 0 : i32
  %m1 = arith.constant 1 : i32
  %s = memref.dim %lg, %c0 : memref<?x?xf32>
  %e = memref.dim %lg, %c1 : memref<?x?xf32>
  scf.parallel (%t) = (%c0) to (%s) step (%c1) {
    %kF = memref.load %params[%c0] : memref<7xf32>
    %kI = arith.fptosi %kF : f32 to i32
    %k = arith.index_cast %kI : i32 to index
    %gF = memref.load %params[%c2] : memref<7xf32>
    %gI = arith.fptosi %gF : f32 to i32
    %g = arith.index_cast %gI : i32 to index
    %tgF = memref.load %params[%c3] : memref<7xf32>
    %tgI = arith.fptosi %tgF : f32 to i32
    %tg = arith.index_cast %tgI : i32 to index
    %softF = memref.load %params[%c5] : memref<7xf32>
    %softmax = arith.cmpf one, %softF, %zero : f32
    %per = arith.divui %e, %g : index
    %base = arith.muli %t, %k : index
    // The softmax's maximum and denominator (unused by sigmoid scores).
    %mx = scf.for %x = %c0 to %e step %c1 iter_args(%m = %ninf) -> (f32) {
      %l = memref.load %lg[%t, %x] : memref<?x?xf32>
      %nm = arith.maximumf %m, %l : f32
      scf.yield %nm : f32
    }
    %total = scf.for %x = %c0 to %e step %c1 iter_args(%acc = %zero) -> (f32) {
      %l = memref.load %lg[%t, %x] : memref<?x?xf32>
      %d = arith.subf %l, %mx : f32
      %p = math.exp %d : f32
      %nacc = arith.addf %acc, %p : f32
      scf.yield %nacc : f32
    }
    %mask = scf.for %gi = %c0 to %g step %c1 iter_args(%m = %m0) -> (i32) {
)mlir") +
         groupTopTwo("%gi", "%gs", "A", 6) +
         "      %ahead = scf.for %h = %c0 to %g step %c1 iter_args(%n = %c0) -> (index) {\n" +
         groupTopTwo("%h", "%hs", "B", 8) + R"mlir(        %gt = arith.cmpf ogt, %hs, %gs : f32
        %eq = arith.cmpf oeq, %hs, %gs : f32
        %lt = arith.cmpi ult, %h, %gi : index
        %tie = arith.andi %eq, %lt : i1
        %before = arith.ori %gt, %tie : i1
        %inc = arith.addi %n, %c1 : index
        %nn = arith.select %before, %inc, %n : index
        scf.yield %nn : index
      }
      %keep = arith.cmpi ult, %ahead, %tg : index
      %gi32 = arith.index_cast %gi : index to i32
      %bit = arith.shli %m1, %gi32 : i32
      %set = arith.ori %m, %bit : i32
      %nm = arith.select %keep, %set, %m : i32
      scf.yield %nm : i32
    }
    // Choices, their scores parked in the weight column, and the scores' sum.
    %picked:3 = scf.for %j = %c0 to %k step %c1 iter_args(%prevV = %inf, %prevI = %none, %sum = %zero)
        -> (f32, index, f32) {
      %best:3 = scf.for %x = %c0 to %e step %c1 iter_args(%bv = %ninf, %bi = %none, %bs = %zero) -> (f32, index, f32) {
)mlir" + indented(kExpertScore, 8) +
         R"mlir(        %grp = arith.divui %x, %per : index
        %grp32 = arith.index_cast %grp : index to i32
        %sh = arith.shrui %mask, %grp32 : i32
        %bit = arith.andi %sh, %m1 : i32
        %kept = arith.cmpi ne, %bit, %m0 : i32
        %v = arith.select %kept, %c, %zero : f32
)mlir" + indented(kNextChoice, 8) + R"mlir(        %nv = arith.select %take, %v, %bv : f32
        %ni = arith.select %take, %x, %bi : index
        %ns = arith.select %take, %sg, %bs : f32
        scf.yield %nv, %ni, %ns : f32, index, f32
      }
      %row = arith.addi %base, %j : index
      %biI = arith.index_cast %best#1 : index to i32
      %biF = arith.sitofp %biI : i32 to f32
      memref.store %biF, %routes[%row, %c0] : memref<?x2xf32>
      memref.store %best#2, %routes[%row, %c1] : memref<?x2xf32>
      %nsum = arith.addf %sum, %best#2 : f32
      scf.yield %best#0, %best#1, %nsum : f32, index, f32
    }
    %normF = memref.load %params[%c1] : memref<7xf32>
    %norm = arith.cmpf one, %normF, %zero : f32
    %eps = arith.select %softmax, %zero, %tiny : f32
    %sumEps = arith.addf %picked#2, %eps : f32
    %floor = memref.load %params[%c6] : memref<7xf32>
    %floored = arith.maximumf %sumEps, %floor : f32
    %den = arith.select %norm, %floored, %one : f32
    %scale = memref.load %params[%c4] : memref<7xf32>
    scf.for %j = %c0 to %k step %c1 {
      %row = arith.addi %base, %j : index
      %v = memref.load %routes[%row, %c1] : memref<?x2xf32>
      %q = arith.divf %v, %den : f32
      %w = arith.mulf %q, %scale : f32
      memref.store %w, %routes[%row, %c1] : memref<?x2xf32>
    }
    scf.reduce
  }
  return
}
)mlir";
}

/// One SparseMixer choice ($i, 1 or 2) of token %t: the largest logit among the experts other than $skip
/// (%none for the first; the lower expert on ties), weighed by the softmax over those experts whose logits l
/// are not excluded by (m - l) / max(|l|, m) > 2 eps (0 / 0 excludes none), stored as route row $row.
constexpr const char *kSparseMixerChoice = R"mlir(    %best$i:2 = scf.for %x = %c0 to %e step %c1 iter_args(%bv = %ninf, %bi = %none) -> (f32, index) {
      %l = memref.load %lg[%t, %x] : memref<?x?xf32>
      %other = arith.cmpi ne, %x, $skip : index
      %unset = arith.cmpi slt, %bi, %c0 : index
      %gt = arith.cmpf ogt, %l, %bv : f32
      %better = arith.ori %unset, %gt : i1
      %take = arith.andi %better, %other : i1
      %nv = arith.select %take, %l, %bv : f32
      %ni = arith.select %take, %x, %bi : index
      scf.yield %nv, %ni : f32, index
    }
    %sum$i = scf.for %x = %c0 to %e step %c1 iter_args(%acc = %zero) -> (f32) {
      %l = memref.load %lg[%t, %x] : memref<?x?xf32>
      %abs = math.absf %l : f32
      %factor = arith.maximumf %abs, %best$i#0 : f32
      %gap = arith.subf %best$i#0, %l : f32
      %rel = arith.divf %gap, %factor : f32
      %out = arith.cmpf ogt, %rel, %twoEps : f32
      %kept = arith.xori %out, %true : i1
      %other = arith.cmpi ne, %x, $skip : index
      %in = arith.andi %kept, %other : i1
      %d = arith.subf %l, %best$i#0 : f32
      %p = math.exp %d : f32
      %add = arith.addf %acc, %p : f32
      %nacc = arith.select %in, %add, %acc : f32
      scf.yield %nacc : f32
    }
    %w$i = arith.divf %one, %sum$i : f32
    %row$i = arith.addi %base, $row : index
    %e$iI = arith.index_cast %best$i#1 : index to i32
    %e$iF = arith.sitofp %e$iI : i32 to f32
    memref.store %e$iF, %routes[%row$i, %c0] : memref<?x2xf32>
    memref.store %w$i, %routes[%row$i, %c1] : memref<?x2xf32>
)mlir";

/// SparseMixer routing on the device (Phi-3.5-MoE), two routes per token as xf_dense_topk_softmax's: the
/// largest logit m weighed by the softmax over the experts it does not exclude, then the same among the other
/// experts with their own largest logit (kSparseMixerChoice). params [eps].
std::string sparseMixerKernel() {
  return std::string(R"mlir(
func.func @xf_dense_topk_sparsemixer(%lg: memref<?x?xf32>, %params: memref<1xf32>, %routes: memref<?x2xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_topk_sparsemixer"}, xf.operand_names = ["input", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %none = arith.constant -1 : index
  %true = arith.constant true
  %s = memref.dim %lg, %c0 : memref<?x?xf32>
  %e = memref.dim %lg, %c1 : memref<?x?xf32>
  scf.parallel (%t) = (%c0) to (%s) step (%c1) {
    %eps = memref.load %params[%c0] : memref<1xf32>
    %twoEps = arith.mulf %two, %eps : f32
    %base = arith.muli %t, %c2 : index
)mlir") +
         substitute(kSparseMixerChoice, {{"$i", "1"}, {"$skip", "%none"}, {"$row", "%c0"}}) +
         substitute(kSparseMixerChoice, {{"$i", "2"}, {"$skip", "%best1#1"}, {"$row", "%c1"}}) + R"mlir(    scf.reduce
  }
  return
}
)mlir";
}

/// The gated activations f(gate) * up of the dense MLPs: `xf_dense_silu_gate` (SiLU) and
/// `xf_dense_gelu_tanh_gate` (GELU, tanh form, with tanh(t) = 1 - 2 / (exp(2t) + 1): exact at both ends,
/// where GPU tanh may not be), `xf_dense_gelu_gate` (GELU, x * Phi(x), with 2 Phi(x) = erfc(-x / sqrt 2) from
/// a Chebyshev fit of erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), relative error under 1.2e-7 for
/// z >= 0, and erfc(-z) = 2 - erfc(z): GPU targets have no erf; with z^2 = x^2 / 2, exp(-z^2) is taken as
/// exp(-xh^2 / 2) exp(-(x - xh)(x + xh) / 2), xh x with 12 significant bits, whose square is exact, so that
/// the tail keeps its relative precision) and `xf_dense_clamped_swiglu` (gpt-oss: gate clamped above by limit, up to
/// [-limit, limit], (up + 1) * gate * sigmoid(alpha gate); params [alpha, limit]) over flat gate and up
/// arrays, and `_stacked`, over one product's rows [gate | up] ([S, 2I], the gate and up projections
/// stacked into one) into y [S, I]. Both forms compute each value alike. Without `gated`, the
/// activation alone over a flat array (`xf_dense_silu`, `xf_dense_gelu_tanh`, `xf_dense_gelu`, `xf_dense_relu`,
/// `xf_dense_relu2` (relu(x)^2): the MLPs without a gate, Starcoder 2's, GPT-NeoX's, Arcee's), the same
/// arithmetic with up = 1.
std::string gatedActivationKernel(StringRef activation, bool stacked, bool gated = true) {
  const bool silu = activation == "silu", clamped = activation == "clamped_swiglu", gelu = activation == "gelu",
             relu = activation == "relu" || activation == "relu2";
  const std::string name =
      ("xf_dense_" + activation + (clamped ? "" : "_gate") + (stacked ? "_stacked" : "")).str();
  // Clamped SwiGLU takes alpha and the limit from `params`, loaded in the work loop.
  const std::string params = clamped ? "%params: memref<2xf32>, " : "",
                    paramName = clamped ? "\"params\", " : "";
  const std::string constants = relu            ? "  %zero = arith.constant 0.0 : f32\n"
                                : silu || clamped ? "  %one = arith.constant 1.0 : f32\n"
                                : gelu          ? R"mlir(  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %zero = arith.constant 0.0 : f32
  %rsqrt2 = arith.constant 0.7071067811865476 : f32
  %highMask = arith.constant -4096 : i32
  %e0 = arith.constant -1.26551223 : f32
  %e1 = arith.constant 1.00002368 : f32
  %e2 = arith.constant 0.37409196 : f32
  %e3 = arith.constant 0.09678418 : f32
  %e4 = arith.constant -0.18628806 : f32
  %e5 = arith.constant 0.27886807 : f32
  %e6 = arith.constant -1.13520398 : f32
  %e7 = arith.constant 1.48851587 : f32
  %e8 = arith.constant -0.82215223 : f32
  %e9 = arith.constant 0.17087277 : f32
)mlir"
                                                : R"mlir(  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %k0 = arith.constant 0.7978845608028654 : f32
  %k1 = arith.constant 0.044715 : f32
)mlir";
  const std::string body = activation == "relu"    ? R"mlir(    %pos = arith.maximumf %a, %zero : f32
    %o = arith.mulf %pos, %b : f32
)mlir"
                           : activation == "relu2" ? R"mlir(    %pos = arith.maximumf %a, %zero : f32
    %sq = arith.mulf %pos, %pos : f32
    %o = arith.mulf %sq, %b : f32
)mlir"
                           : silu ? R"mlir(    %na = arith.negf %a : f32
    %e = math.exp %na : f32
    %d = arith.addf %one, %e : f32
    %s = arith.divf %a, %d : f32
    %o = arith.mulf %s, %b : f32
)mlir"
                           : gelu ? R"mlir(    %ax = math.absf %a : f32
    %z = arith.mulf %ax, %rsqrt2 : f32
    %hz = arith.mulf %half, %z : f32
    %den = arith.addf %one, %hz : f32
    %t = arith.divf %one, %den : f32
    %p8 = math.fma %t, %e9, %e8 : f32
    %p7 = math.fma %t, %p8, %e7 : f32
    %p6 = math.fma %t, %p7, %e6 : f32
    %p5 = math.fma %t, %p6, %e5 : f32
    %p4 = math.fma %t, %p5, %e4 : f32
    %p3 = math.fma %t, %p4, %e3 : f32
    %p2 = math.fma %t, %p3, %e2 : f32
    %p1 = math.fma %t, %p2, %e1 : f32
    %p0 = math.fma %t, %p1, %e0 : f32
    %xBits = arith.bitcast %ax : f32 to i32
    %xHighBits = arith.andi %xBits, %highMask : i32
    %xh = arith.bitcast %xHighBits : i32 to f32
    %xh2 = arith.mulf %xh, %xh : f32
    %zh2 = arith.mulf %half, %xh2 : f32
    %nzh2 = arith.negf %zh2 : f32
    %eHigh = math.exp %nzh2 : f32
    %xLow = arith.subf %ax, %xh : f32
    %xSum = arith.addf %ax, %xh : f32
    %xRest = arith.mulf %xLow, %xSum : f32
    %rest = arith.mulf %half, %xRest : f32
    %ex = arith.subf %p0, %rest : f32
    %eLow = math.exp %ex : f32
    %ee = arith.mulf %eHigh, %eLow : f32
    %erfc = arith.mulf %t, %ee : f32
    %twoMinus = arith.subf %two, %erfc : f32
    %nonNeg = arith.cmpf oge, %a, %zero : f32
    %cdf2 = arith.select %nonNeg, %twoMinus, %erfc : f32
    %ha = arith.mulf %half, %a : f32
    %gelu = arith.mulf %ha, %cdf2 : f32
    %o = arith.mulf %gelu, %b : f32
)mlir"
                           : clamped ? R"mlir(    %alpha = memref.load %params[%c0] : memref<2xf32>
    %limit = memref.load %params[%c1] : memref<2xf32>
    %neg = arith.negf %limit : f32
    %gate = arith.minimumf %a, %limit : f32
    %upLow = arith.maximumf %b, %neg : f32
    %up = arith.minimumf %upLow, %limit : f32
    %ag = arith.mulf %alpha, %gate : f32
    %nag = arith.negf %ag : f32
    %e = math.exp %nag : f32
    %d = arith.addf %one, %e : f32
    %glu = arith.divf %gate, %d : f32
    %up1 = arith.addf %up, %one : f32
    %o = arith.mulf %up1, %glu : f32
)mlir"
                                     : R"mlir(    %a2 = arith.mulf %a, %a : f32
    %a3 = arith.mulf %a2, %a : f32
    %inner = math.fma %k1, %a3, %a : f32
    %t = arith.mulf %k0, %inner : f32
    %t2 = arith.mulf %two, %t : f32
    %e = math.exp %t2 : f32
    %e1 = arith.addf %e, %one : f32
    %q = arith.divf %two, %e1 : f32
    %tanh = arith.subf %one, %q : f32
    %onePlus = arith.addf %one, %tanh : f32
    %ha = arith.mulf %half, %a : f32
    %gelu = arith.mulf %ha, %onePlus : f32
    %o = arith.mulf %gelu, %b : f32
)mlir";
  const std::string kind = name.substr(3);
  if (!gated) {
    const std::string plain = ("xf_dense_" + activation).str();
    return "\nfunc.func @" + plain + "(%x: memref<?xf32>, %y: memref<?xf32>) attributes {\n    xf.kernel, " +
           "xf.kernel_info = {kind = \"" + plain.substr(3) + "\"}, xf.operand_names = [\"input\", \"output\"]} {\n" +
           "  %c0 = arith.constant 0 : index\n  %c1 = arith.constant 1 : index\n" + constants +
           R"mlir(  %n = memref.dim %x, %c0 : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %a = memref.load %x[%i] : memref<?xf32>
    %b = arith.constant 1.0 : f32
)mlir" + body + R"mlir(    memref.store %o, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}
)mlir";
  }
  if (!stacked)
    return "\nfunc.func @" + name + "(%g: memref<?xf32>, %u: memref<?xf32>, " + params +
           "%y: memref<?xf32>) attributes {\n    xf.kernel, xf.kernel_info = {kind = \"" + kind +
           "\"}, xf.operand_names = [\"gate\", \"up\", " + paramName +
           "\"output\"]} {\n  %c0 = arith.constant 0 : index\n"
           "  %c1 = arith.constant 1 : index\n" + constants + R"mlir(  %n = memref.dim %g, %c0 : memref<?xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %a = memref.load %g[%i] : memref<?xf32>
    %b = memref.load %u[%i] : memref<?xf32>
)mlir" + body + R"mlir(    memref.store %o, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}
)mlir";
  return "\nfunc.func @" + name + "(%gu: memref<?x?xf32>, " + params +
         "%y: memref<?x?xf32>) attributes {\n    xf.kernel, xf.kernel_info = {kind = \"" + kind +
         "\"}, xf.operand_names = [\"input\", " + paramName + "\"output\"]} {\n  %c0 = arith.constant 0 : index\n"
         "  %c1 = arith.constant 1 : index\n" + constants + R"mlir(  %rows = memref.dim %y, %c0 : memref<?x?xf32>
  %cols = memref.dim %y, %c1 : memref<?x?xf32>
  %n = arith.muli %rows, %cols : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %r = arith.divui %i, %cols : index
    %c = arith.remui %i, %cols : index
    %cu = arith.addi %c, %cols : index
    %a = memref.load %gu[%r, %c] : memref<?x?xf32>
    %b = memref.load %gu[%r, %cu] : memref<?x?xf32>
)mlir" + body + R"mlir(    memref.store %o, %y[%r, %c] : memref<?x?xf32>
    scf.reduce
  }
  return
}
)mlir";
}

/// The products y = x W^T, in four kernels: W [N, K] (nn.Linear's layout) in f32 (`xf_dense_matmul`), or in
/// bf16 pairs [N, ceil(K / 2)] (`_bf16`), and routed (`_routed`, `_routed_bf16`): row r of y is x's row
/// r / per (params [per]: K for the experts' first products, 1 after) times the weights of expert
/// routes[r, 0], stacked [E, N, K]: each token's chosen experts, without the host.
///
/// A work item is `lanes` consecutive work items (lanes of one subgroup on a GPU, 1 on the CPU) that share
/// one output column of up to kMatmulRows rows (1 when routed: each row has its own expert): lane l sums the
/// input pairs (2p, 2p + 1) for p = l, l + lanes, ..., so the lanes of a subgroup read consecutive words of
/// a weight row together, and xor shuffles add up their sums. One thread per output instead would give a
/// decode step (M = 1) only N threads, each streaming a strided column: a few percent of a GPU's memory
/// bandwidth. The rows of an item share each weight word, a fraction of the traffic at prefill.
///
/// A bf16 word (c, p) holds the weights of inputs 2p (low half) and 2p + 1 (high half) for output c (bf16
/// is the upper half of an f32, so widening is a shift or a mask); the f32 kernel takes the same pairs in
/// the same order, so the two are bit-identical on the same (widened) weights. For odd K the last pair's
/// upper weight is 0 and its x column is clamped, so it adds 0. Routes are device data the runtime cannot
/// check, so an expert index past the last reads the last expert (the unsigned minimum sends a negative one
/// there too) rather than out of bounds.
constexpr int64_t kMatmulRows = 4, kGemvUnroll = 4;

/// What both product generators start with: index constants 0 to 2, f32 zero, the bf16 widening constants
/// (%s16, %high), y's rows %m and columns %n, and x's columns %k.
constexpr const char *kProductPreamble = R"mlir(
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %s16 = arith.constant 16 : i32
  %high = arith.constant -65536 : i32
  %m = memref.dim %y, %c0 : memref<?x?xf32>
  %n = memref.dim %y, %c1 : memref<?x?xf32>
  %k = memref.dim %x, %c1 : memref<?x?xf32>
)mlir";

/// The lines that widen the bf16 pair in f32 word `word` into %<lo> (input 2p, the low half) and %<hi>
/// (2p + 1, the high half); `id` keeps the temporaries' names apart.
std::string widenPair(const std::string &word, const std::string &lo, const std::string &hi, const std::string &id,
                      const std::string &indent) {
  return indent + "%bits" + id + " = arith.bitcast " + word + " : f32 to i32\n" + indent + "%lob" + id +
         " = arith.shli %bits" + id + ", %s16 : i32\n" + indent + "%hib" + id + " = arith.andi %bits" + id +
         ", %high : i32\n" + indent + lo + " = arith.bitcast %lob" + id + " : i32 to f32\n" + indent + hi +
         " = arith.bitcast %hib" + id + " : i32 to f32\n";
}

/// The store of f32 `value` into y at `at`, or with `accumulate` of y's value there plus `value` (the
/// `_acc` products, y += x W^T: a residual added in the product's epilogue, as `xf_dense_add` adds it).
std::string storeToY(const std::string &value, const std::string &at, bool accumulate, const std::string &id) {
  if (!accumulate)
    return "memref.store " + value + ", %y[" + at + "] : memref<?x?xf32>\n";
  return "%old" + id + " = memref.load %y[" + at + "] : memref<?x?xf32>\n%acc" + id + " = arith.addf %old" + id +
         ", " + value + " : f32\nmemref.store %acc" + id + ", %y[" + at + "] : memref<?x?xf32>\n";
}

std::string matmulKernel(bool routed, bool bf16, int64_t lanes, bool accumulate = false, bool normed = false) {
  const int rows = routed ? 1 : kMatmulRows;
  std::string name = std::string("xf_dense_matmul") + (routed ? "_routed" : "") + (bf16 ? "_bf16" : "") +
                     (accumulate ? "_acc" : "") + (normed ? "_norm" : "");
  std::string weight = routed ? "memref<?x?x?xf32>" : "memref<?x?xf32>";
  std::string at = routed ? "%ex, %col, " : "%col, "; // a weight row's leading indices
  std::string L = std::to_string(lanes);
  auto num = [](int64_t v) { return std::to_string(v); };
  std::string text = "\nfunc.func @" + name + "(%x: memref<?x?xf32>, " +
                     (normed ? "%gain: memref<?xf32>, %norm: memref<2xf32>, " : "") + "%w: " + weight +
                     (routed ? ", %routes: memref<?x2xf32>, %params: memref<1xf32>" : "") +
                     ", %y: memref<?x?xf32>) attributes {\n    xf.kernel, xf.kernel_info = {kind = \"" +
                     name.substr(3) + "\", weights = \"out_in\"}, xf.operand_names = [\"input\", " +
                     (normed ? "\"gain\", \"params\", " : "") + "\"weight\", " +
                     (routed ? "\"routes\", \"params\", " : "") + "\"output\"]" +
                     (lanes > 1 ? ", xf.subgroup_lanes = " + L + " : i64" : "") + "} {" + kProductPreamble +
                     R"mlir(  %cLanes = arith.constant )mlir" + L + R"mlir( : index
  %cRows = arith.constant )mlir" + num(rows) + R"mlir( : index
  %cUnroll = arith.constant )mlir" + num(kGemvUnroll) + R"mlir( : index
  %last = arith.subi %k, %c1 : index
  %kUp = arith.addi %k, %c1 : index
  %pairs = arith.divui %kUp, %c2 : index
  %lastRow = arith.subi %m, %c1 : index
  %mUp = arith.addi %m, %cRows : index
  %mUp1 = arith.subi %mUp, %c1 : index
  %blocks = arith.divui %mUp1, %cRows : index
  %outputs = arith.muli %blocks, %n : index
  %items = arith.muli %outputs, %cLanes : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %lane = arith.remui %i, %cLanes : index
    %o = arith.divui %i, %cLanes : index
    %col = arith.remui %o, %n : index
    %block = arith.divui %o, %n : index
    %row0 = arith.muli %block, %cRows : index
    %left = arith.subi %m, %row0 : index
)mlir";
  if (normed)
    text += R"mlir(    %eps = memref.load %norm[%c0] : memref<2xf32>
    %offset = memref.load %norm[%c1] : memref<2xf32>
    %kI = arith.index_cast %k : index to i32
    %kF = arith.sitofp %kI : i32 to f32
)mlir";
  if (routed)
    text += R"mlir(    %experts = memref.dim %w, %c0 : memref<?x?x?xf32>
    %lastE = arith.subi %experts, %c1 : index
    %perF = memref.load %params[%c0] : memref<1xf32>
    %perI = arith.fptosi %perF : f32 to i32
    %per = arith.index_cast %perI : i32 to index
    %in0 = arith.divui %row0, %per : index
    %eF = memref.load %routes[%row0, %c0] : memref<?x2xf32>
    %eI = arith.fptosi %eF : f32 to i32
    %eR = arith.index_cast %eI : i32 to index
    %ex = arith.minui %eR, %lastE : index
)mlir";
  else
    // A short last block reads its last row again for the missing ones and stores only its own.
    for (int r = 1; r < rows; ++r)
      text += "    %cr" + num(r) + " = arith.constant " + num(r) + " : index\n    %next" + num(r) +
              " = arith.addi %row0, %cr" + num(r) + " : index\n    %row" + num(r) + " = arith.minui %next" + num(r) +
              ", %lastRow : index\n";
  // The weight pair (%b0<u>, %b1<u>) of inputs (%k0<u>, %k1c<u>) for this column and pair index `p`: one
  // word, or two floats.
  auto pair = [&](const std::string &u, const std::string &p) {
    std::string text = "        %k0" + u + " = arith.muli " + p + ", %c2 : index\n        %k1" + u + " = arith.addi %k0" + u +
                       ", %c1 : index\n        %k1c" + u + " = arith.minui %k1" + u + ", %last : index\n";
    if (normed)
      text += "        %g0" + u + " = memref.load %gain[%k0" + u + "] : memref<?xf32>\n        %g1" + u +
              " = memref.load %gain[%k1c" + u + "] : memref<?xf32>\n        %ga0" + u + " = arith.addf %g0" + u +
              ", %offset : f32\n        %ga1" + u + " = arith.addf %g1" + u + ", %offset : f32\n        %in1" + u +
              " = arith.cmpi ult, %k1" + u + ", %k : index\n";
    if (bf16)
      return text + "        %word" + u + " = memref.load %w[" + at + p + "] : " + weight + "\n" +
             widenPair("%word" + u, "%b0" + u, "%b1" + u, u, "        ");
    return text + "        %b0" + u + " = memref.load %w[" + at + "%k0" + u + "] : " + weight + "\n        %w1" + u +
           " = memref.load %w[" + at + "%k1c" + u + "] : " + weight + "\n        %inside" + u + " = arith.cmpi ult, %k1" +
           u + ", %k : index\n        %b1" + u + " = arith.select %inside" + u + ", %w1" + u + ", %zero : f32\n";
  };
  // acc + x[in, k0] b0 + x[in, k1] b1 into %p1<u>_<s>; normed, the inputs times their gains, and
  // sq + x[in, k0]^2 + x[in, k1]^2 (k1 < K) into %q1<u>_<s>.
  auto fma = [&](const std::string &u, const std::string &s, const std::string &in, const std::string &acc,
                 const std::string &sq = "") {
    std::string id = u + "_" + s;
    std::string text = "        %a0" + id + " = memref.load %x[" + in + ", %k0" + u + "] : memref<?x?xf32>\n        %a1" +
                       id + " = memref.load %x[" + in + ", %k1c" + u + "] : memref<?x?xf32>\n";
    std::string x0 = "%a0" + id, x1 = "%a1" + id;
    if (normed) {
      text += "        %xa0" + id + " = arith.mulf %a0" + id + ", %ga0" + u + " : f32\n        %xa1" + id +
              " = arith.mulf %a1" + id + ", %ga1" + u + " : f32\n        %a1m" + id + " = arith.select %in1" + u +
              ", %a1" + id + ", %zero : f32\n        %q0" + id + " = math.fma %a0" + id + ", %a0" + id + ", " + sq +
              " : f32\n        %q1" + id + " = math.fma %a1m" + id + ", %a1m" + id + ", %q0" + id + " : f32\n";
      x0 = "%xa0" + id;
      x1 = "%xa1" + id;
    }
    return text + "        %p0" + id + " = math.fma " + x0 + ", %b0" + u + ", " + acc + " : f32\n        %p1" + id +
           " = math.fma " + x1 + ", %b1" + u + ", %p0" + id + " : f32\n";
  };
  // A loop over this lane's pairs with `count` accumulators, rows row0 .. row(count-1), into %<result>#r.
  // Normed, the sums of squares follow the sums: %<result>#(count + r).
  auto loop = [&](int count, const std::string &result) {
    std::string accs, types, yields, body, sqAccs, sqYields;
    for (int r = 0; r < count; ++r) {
      std::string s = num(r), in = routed ? "%in0" : "%row" + s;
      accs += (r ? ", %acc" : "%acc") + s + " = %zero";
      types += r ? ", f32" : "f32";
      yields += (r ? ", %p1_" : "%p1_") + s;
      body += fma("", s, in, "%acc" + s, "%sq" + s);
      sqAccs += ", %sq" + s + " = %zero";
      sqYields += ", %q1_" + s;
    }
    if (normed) {
      accs += sqAccs;
      yields += sqYields;
      types += ", " + types;
    }
    return "      " + result + ":" + num(normed ? 2 * count : count) + " = scf.for %pp = %lane to %pairs step %cLanes iter_args(" + accs +
           ") -> (" + types + ") {\n" + pair("", "%pp") + body + "        scf.yield " + yields + " : " + types +
           "\n      }\n";
  };
  // The one-row loop (decode) takes kGemvUnroll of the lane's pairs per step, their loads first, so each
  // lane has that many reads in flight; the sums keep the pairs' order (the tail's are skipped).
  auto decodeLoop = [&](const std::string &result) {
    const std::string in = routed ? "%in0" : "%row0";
    std::string text = "      %stride = arith.muli %cLanes, %cUnroll : index\n      %lastPair = arith.subi %pairs, %c1 : index\n      " +
                       result + (normed ? ":2" : ":1") + " = scf.for %pp = %lane to %pairs step %stride iter_args(%acc0 = %zero" +
                       (normed ? ", %sq0 = %zero) -> (f32, f32)" : ") -> (f32)") + " {\n";
    std::string acc = "%acc0", sq = "%sq0";
    for (int u = 0; u < kGemvUnroll; ++u) {
      std::string U = num(u);
      text += "        %off" + U + " = arith.constant " + num(u * lanes) + " : index\n        %pu" + U + " = arith.addi %pp, %off" +
              U + " : index\n        %valid" + U + " = arith.cmpi ult, %pu" + U + ", %pairs : index\n        %pc" + U +
              " = arith.minui %pu" + U + ", %lastPair : index\n" + pair(U, "%pc" + U);
    }
    for (int u = 0; u < kGemvUnroll; ++u) {
      std::string U = num(u);
      text += fma(U, "0", in, acc, sq) + "        %n" + U + " = arith.select %valid" + U + ", %p1" + U + "_0, " + acc +
              " : f32\n";
      acc = "%n" + U;
      if (normed) {
        text += "        %nq" + U + " = arith.select %valid" + U + ", %q1" + U + "_0, " + sq + " : f32\n";
        sq = "%nq" + U;
      }
    }
    return text + "        scf.yield " + acc + (normed ? ", " + sq + " : f32, f32" : " : f32") + "\n      }\n";
  };
  std::vector<std::string> sums; // per row its sum, then (normed) per row its sum of squares
  if (rows == 1) {
    text += decodeLoop("%s");
    sums.push_back("%s#0");
    if (normed)
      sums.push_back("%s#1");
  } else {
    // A block of one row (every decode step) runs a loop of one accumulator (and one sum of squares).
    const int values = normed ? 2 * rows : rows;
    std::string types, zeros, all;
    for (int r = 0; r < values; ++r) {
      types += r ? ", f32" : "f32";
      all += (r ? ", %r#" : "%r#") + num(r);
      sums.push_back("%s#" + num(r));
    }
    for (int r = 1; r < rows; ++r)
      zeros += ", %zero";
    std::string decodeYield = "%r#0" + zeros + (normed ? ", %r#1" + zeros : "");
    text += "    %multi = arith.cmpi ugt, %left, %c1 : index\n    %s:" + num(values) + " = scf.if %multi -> (" + types +
            ") {\n" + loop(rows, "%r") + "      scf.yield " + all + " : " + types + "\n    } else {\n" +
            decodeLoop("%r") + "      scf.yield " + decodeYield + " : " + types + "\n    }\n";
  }
  // Each lane holds its share; xor shuffles leave every lane with the whole (bit-identical) sum.
  for (int64_t offset = 1; offset < lanes; offset *= 2) {
    std::string o = num(offset);
    text += "    %off" + o + " = arith.constant " + o + " : i32\n    %width" + o + " = arith.constant " + L + " : i32\n";
    for (size_t r = 0; r < sums.size(); ++r) {
      std::string id = o + "_" + num(r);
      text += "    %sh" + id + ", %ok" + id + " = gpu.shuffle xor " + sums[r] + ", %off" + o + ", %width" + o +
              " : f32\n    %t" + id + " = arith.addf " + sums[r] + ", %sh" + id + " : f32\n";
      sums[r] = "%t" + id;
    }
  }
  text += "    %first = arith.cmpi eq, %lane, %c0 : index\n    scf.if %first {\n";
  // Normed: y = sum * rsqrt(sum of squares / K + eps), the RMSNorm's scale of the row.
  if (normed)
    for (int r = 0; r < rows; ++r) {
      std::string s = num(r);
      text += "      %mean" + s + " = arith.divf " + sums[rows + r] + ", %kF : f32\n      %shifted" + s + " = arith.addf %mean" +
              s + ", %eps : f32\n      %inv" + s + " = math.rsqrt %shifted" + s + " : f32\n      %scaled" + s +
              " = arith.mulf " + sums[r] + ", %inv" + s + " : f32\n";
      sums[r] = "%scaled" + s;
    }
  for (int r = 0; r < rows; ++r) {
    std::string s = num(r), store = storeToY(sums[r], "%row" + (r ? s : "0") + ", %col", accumulate, "Y" + s);
    if (r == 0) {
      text += store;
      continue;
    }
    text += "      %has" + s + " = arith.cmpi ugt, %left, %cr" + s + " : index\n      scf.if %has" + s + " {\n" +
            store + "      }\n";
  }
  return text + R"mlir(    }
    scf.reduce
  }
  return
}
)mlir";
}

/// The products for many rows (prefill), computed by workgroups of kTileThreads threads that each own a
/// kTileRows x kTileCols tile of y:
///   - `xf_dense_matmul_tiled`, `_tiled_bf16`: the operands and results of `xf_dense_matmul` and `_bf16`;
///   - `xf_dense_matmul_grouped`, `_grouped_bf16`: those of `xf_dense_matmul_routed` and `_bf16`, with the
///     rows grouped by expert (`groups` [E, R + 1], from `xf_dense_route_groups`: per expert its row count,
///     then its rows). A workgroup takes tiles of 64 rows of one expert's list (every kGroupSlots-th),
///     gathering their input rows, so each expert weight is read once per 64 of its rows; tiles past an
///     expert's count do nothing.
/// Per step of kTileK inputs the workgroup stages its rows of x and its columns of W (widened) in
/// workgroup memory, meets at a barrier, and each thread adds the products into its 4 x 8 accumulators
/// (rows 4 tr + i, columns tc + 8 j) before a second barrier. A weight element is thus read from memory
/// once per 64 rows instead of once per row, and every staged value feeds 4 or 8 products from registers.
/// Each output sums its inputs in order, one FMA each; the f32 and bf16 kernels are bit-identical on the
/// same (widened) weights. Loads past an edge read a clamped address and stage 0.
constexpr int64_t kTileThreads = 128, kTileRows = 64, kTileCols = 64, kTileK = 16;
/// The grouped products' workgroups per expert and column tile, each taking every kGroupSlots-th row tile
/// of the expert's list: the launch does not scale with experts x rows (most of those tiles would be empty,
/// and some Vulkan devices allow 65535 workgroups per dispatch).
constexpr int64_t kGroupSlots = 8;

std::string tiledMatmulKernel(bool bf16, bool grouped, bool accumulate = false) {
  auto num = [](int64_t v) { return std::to_string(v); };
  std::string acc = accumulate ? "_acc" : "";
  std::string suffix = std::string(grouped ? "_grouped" : "_tiled") + (bf16 ? "_bf16" : "") + acc;
  std::string kind = std::string(grouped ? "dense_matmul_grouped" : "dense_matmul") + (bf16 ? "_bf16" : "") + acc;
  std::string weight = grouped ? "memref<?x?x?xf32>" : "memref<?x?xf32>";
  std::string at = grouped ? "%e, " : ""; // a weight row's leading index
  std::string text = "\nfunc.func @xf_dense_matmul" + suffix + "(%x: memref<?x?xf32>, %w: " + weight +
                     (grouped ? ", %groups: memref<?x?xf32>, %params: memref<1xf32>" : "") +
                     ", %y: memref<?x?xf32>) attributes {\n    xf.kernel, xf.kernel_info = {kind = \"" + kind +
                     "\", weights = \"out_in\"}, xf.operand_names = [\"input\", \"weight\", " +
                     (grouped ? "\"groups\", \"params\", " : "") + "\"output\"], xf.workgroup_size = " +
                     num(kTileThreads) + " : i64} {" + kProductPreamble + R"mlir(  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %cK = arith.constant )mlir" + num(kTileK) + R"mlir( : index
  %cRows = arith.constant )mlir" + num(kTileRows) + R"mlir( : index
  %cCols = arith.constant )mlir" + num(kTileCols) + R"mlir( : index
  %cThreads = arith.constant )mlir" + num(kTileThreads) + R"mlir( : index
  %kw = memref.dim %w, )mlir" + (grouped ? "%c2" : "%c1") + " : " + weight + R"mlir(
  %lastRow = arith.subi %m, %c1 : index
  %lastCol = arith.subi %n, %c1 : index
  %lastK = arith.subi %k, %c1 : index
  %lastW = arith.subi %kw, %c1 : index
  %mUp = arith.addi %m, %cRows : index
  %mUp1 = arith.subi %mUp, %c1 : index
  %tilesM = arith.divui %mUp1, %cRows : index
  %nUp = arith.addi %n, %cCols : index
  %nUp1 = arith.subi %nUp, %c1 : index
  %tilesN = arith.divui %nUp1, %cCols : index
  %kUp = arith.addi %k, %cK : index
  %kUp1 = arith.subi %kUp, %c1 : index
  %steps = arith.divui %kUp1, %cK : index
  %tiles = arith.muli %tilesM, %tilesN : index
)mlir";
  if (grouped)
    text += R"mlir(  %experts = memref.dim %w, %c0 : memref<?x?x?xf32>
  %cSlots = arith.constant )mlir" + num(kGroupSlots) + R"mlir( : index
  %slots = arith.minui %tilesM, %cSlots : index
  %slotsN = arith.muli %slots, %tilesN : index
  %tilesE = arith.muli %slotsN, %experts : index
  %items = arith.muli %tilesE, %cThreads : index
  %inputs = memref.dim %x, %c0 : memref<?x?xf32>
  %lastInput = arith.subi %inputs, %c1 : index
)mlir";
  else
    text += "  %items = arith.muli %tiles, %cThreads : index\n";
  text += R"mlir(  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %t = arith.remui %i, %cThreads : index
    %tile = arith.divui %i, %cThreads : index
    %tn = arith.remui %tile, %tilesN : index
    %rest = arith.divui %tile, %tilesN : index
    %col0 = arith.muli %tn, %cCols : index
    %tr = arith.divui %t, %c8 : index
    %tc = arith.remui %t, %c8 : index
    %tr4 = arith.muli %tr, %c4 : index
    %lr = arith.divui %t, %c16 : index
    %lk = arith.remui %t, %c16 : index
)mlir";
  // Rows of y (`count` of them from row0 on in this tile's list) and the input row each reads.
  if (grouped)
    text += R"mlir(    %slot = arith.remui %rest, %slots : index
    %e = arith.divui %rest, %slots : index
    %countF = memref.load %groups[%e, %c0] : memref<?x?xf32>
    %countI = arith.fptosi %countF : f32 to i32
    %countC = arith.index_cast %countI : i32 to index
    %count = arith.minui %countC, %m : index
    %perF = memref.load %params[%c0] : memref<1xf32>
    %perI = arith.fptosi %perF : f32 to i32
    %per = arith.index_cast %perI : i32 to index
    %lastListed = arith.subi %count, %c1 : index
    scf.for %tm = %slot to %tilesM step %slots {
    %row0 = arith.muli %tm, %cRows : index
    %busy = arith.cmpi ult, %row0, %count : index
    scf.if %busy {
)mlir";
  else
    text += "    %row0 = arith.muli %rest, %cRows : index\n    %count = arith.addi %m, %c0 : index\n"
            "    %lastListed = arith.subi %m, %c1 : index\n    %true = arith.constant true\n    scf.if %true {\n";
  // The output row of list entry `j` (clamped into the list), and that row's input row.
  auto rowOf = [&](const std::string &id, const std::string &j) {
    std::string out = "    %jc" + id + " = arith.minui " + j + ", %lastListed : index\n";
    if (!grouped)
      return out + "    %yr" + id + " = arith.addi %jc" + id + ", %c0 : index\n    %xr" + id + " = arith.addi %jc" + id +
             ", %c0 : index\n";
    return out + "    %jl" + id + " = arith.addi %jc" + id + ", %c1 : index\n    %rf" + id + " = memref.load %groups[%e, %jl" +
           id + "] : memref<?x?xf32>\n    %ri" + id + " = arith.fptosi %rf" + id + " : f32 to i32\n    %rx" + id +
           " = arith.index_cast %ri" + id + " : i32 to index\n    %yr" + id + " = arith.minui %rx" + id +
           ", %lastRow : index\n    %xd" + id + " = arith.divui %yr" + id + ", %per : index\n    %xr" + id +
           " = arith.minui %xd" + id + ", %lastInput : index\n";
  };
  text += "    %xs = memref.alloc() : memref<64x17xf32, #gpu.address_space<workgroup>>\n"
          "    %ws = memref.alloc() : memref<16x65xf32, #gpu.address_space<workgroup>>\n";
  // The staged rows (tr4 + r) and columns (tc + 8 c) this thread multiplies, and where it stores them.
  for (int r = 0; r < 4; ++r)
    text += "    %ri" + num(r) + " = arith.constant " + num(r) + " : index\n    %ar" + num(r) + " = arith.addi %tr4, %ri" +
            num(r) + " : index\n";
  for (int c = 0; c < 8; ++c)
    text += "    %cj" + num(c) + " = arith.constant " + num(8 * c) + " : index\n    %bc" + num(c) + " = arith.addi %tc, %cj" +
            num(c) + " : index\n";
  // The rows this thread stages: list entries row0 + lr + 8 q.
  for (int q = 0; q < 8; ++q) {
    std::string Q = num(q);
    text += "    %xq" + Q + " = arith.constant " + num(8 * q) + " : index\n    %xl" + Q + " = arith.addi %lr, %xq" + Q +
            " : index\n    %xj" + Q + " = arith.addi %row0, %xl" + Q + " : index\n    %xin" + Q + " = arith.cmpi ult, %xj" +
            Q + ", %count : index\n" + rowOf("s" + Q, "%xj" + Q);
  }
  const int accs = 32;
  std::string zeros, types;
  for (int a = 0; a < accs; ++a) {
    zeros += (a ? ", %acc" : "%acc") + num(a) + " = %zero";
    types += a ? ", f32" : "f32";
  }
  text += "    %sum:" + num(accs) + " = scf.for %step = %c0 to %steps step %c1 iter_args(" + zeros + ") -> (" + types +
          ") {\n      %k0 = arith.muli %step, %cK : index\n      %gk = arith.addi %k0, %lk : index\n"
          "      %kin = arith.cmpi ult, %gk, %k : index\n      %gkc = arith.minui %gk, %lastK : index\n";
  // x's staged rows, inputs k0 + lk, into xs[lr + 8 q][lk].
  for (int q = 0; q < 8; ++q) {
    std::string Q = num(q);
    text += "      %xv" + Q + " = memref.load %x[%xrs" + Q + ", %gkc] : memref<?x?xf32>\n      %xok" + Q +
            " = arith.andi %xin" + Q + ", %kin : i1\n      %xsv" + Q + " = arith.select %xok" + Q + ", %xv" + Q +
            ", %zero : f32\n      memref.store %xsv" + Q + ", %xs[%xl" + Q +
            ", %lk] : memref<64x17xf32, #gpu.address_space<workgroup>>\n";
  }
  if (!bf16) {
    // W's rows (outputs) col0 + lr + 8 q, inputs k0 + lk, into ws[lk][lr + 8 q].
    for (int q = 0; q < 8; ++q) {
      std::string Q = num(q);
      text += "      %wg" + Q + " = arith.addi %col0, %xl" + Q + " : index\n      %win" + Q + " = arith.cmpi ult, %wg" + Q +
              ", %n : index\n      %wgc" + Q + " = arith.minui %wg" + Q + ", %lastCol : index\n      %wv" + Q +
              " = memref.load %w[" + at + "%wgc" + Q + ", %gkc] : " + weight + "\n      %wok" + Q + " = arith.andi %win" +
              Q + ", %kin : i1\n      %wsv" + Q + " = arith.select %wok" + Q + ", %wv" + Q +
              ", %zero : f32\n      memref.store %wsv" + Q + ", %ws[%lk, %xl" + Q +
              "] : memref<16x65xf32, #gpu.address_space<workgroup>>\n";
    }
  } else {
    // W's words: rows col0 + t / 8 + 16 q, words k0 / 2 + t % 8, widened into ws[2 p], ws[2 p + 1].
    text += "      %wp = arith.remui %t, %c8 : index\n      %wr = arith.divui %t, %c8 : index\n"
            "      %p0 = arith.divui %k0, %c2 : index\n      %gp = arith.addi %p0, %wp : index\n"
            "      %pin = arith.cmpi ult, %gp, %kw : index\n      %gpc = arith.minui %gp, %lastW : index\n"
            "      %wlo = arith.muli %wp, %c2 : index\n      %whi = arith.addi %wlo, %c1 : index\n";
    for (int q = 0; q < 4; ++q) {
      std::string Q = num(q);
      text += "      %wq" + Q + " = arith.constant " + num(16 * q) + " : index\n      %wc" + Q + " = arith.addi %wr, %wq" +
              Q + " : index\n      %wg" + Q + " = arith.addi %col0, %wc" + Q + " : index\n      %win" + Q +
              " = arith.cmpi ult, %wg" + Q + ", %n : index\n      %wgc" + Q + " = arith.minui %wg" + Q +
              ", %lastCol : index\n      %word" + Q + " = memref.load %w[" + at + "%wgc" + Q + ", %gpc] : " + weight +
              "\n      %wok" + Q + " = arith.andi %win" + Q + ", %pin : i1\n" +
              widenPair("%word" + Q, "%lof" + Q, "%hif" + Q, Q, "      ") + "      %lov" + Q +
              " = arith.select %wok" + Q + ", %lof" + Q + ", %zero : f32\n      %hiv" + Q + " = arith.select %wok" + Q +
              ", %hif" + Q + ", %zero : f32\n      memref.store %lov" + Q + ", %ws[%wlo, %wc" + Q +
              "] : memref<16x65xf32, #gpu.address_space<workgroup>>\n      memref.store %hiv" + Q + ", %ws[%whi, %wc" + Q +
              "] : memref<16x65xf32, #gpu.address_space<workgroup>>\n";
    }
  }
  // The products of this step: rows tr4 + i, columns tc + 8 j.
  std::string inner, carried, yields;
  for (int a = 0; a < accs; ++a) {
    carried += (a ? ", %q" : "%q") + num(a) + " = %acc" + num(a);
    yields += (a ? ", %f" : "%f") + num(a);
  }
  for (int r = 0; r < 4; ++r)
    inner += "        %a" + num(r) + " = memref.load %xs[%ar" + num(r) +
             ", %kk] : memref<64x17xf32, #gpu.address_space<workgroup>>\n";
  for (int c = 0; c < 8; ++c)
    inner += "        %b" + num(c) + " = memref.load %ws[%kk, %bc" + num(c) +
             "] : memref<16x65xf32, #gpu.address_space<workgroup>>\n";
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 8; ++c) {
      int a = r * 8 + c;
      inner += "        %f" + num(a) + " = math.fma %a" + num(r) + ", %b" + num(c) + ", %q" + num(a) + " : f32\n";
    }
  text += "      gpu.barrier\n      %part:" + num(accs) + " = scf.for %kk = %c0 to %cK step %c1 iter_args(" + carried +
          ") -> (" + types + ") {\n" + inner + "        scf.yield " + yields + " : " + types +
          "\n      }\n      gpu.barrier\n      scf.yield ";
  for (int a = 0; a < accs; ++a)
    text += (a ? ", %part#" : "%part#") + num(a);
  text += " : " + types + "\n    }\n";
  // Each thread's outputs that lie inside y (inside the expert's list).
  for (int r = 0; r < 4; ++r) {
    std::string R = num(r);
    text += "    %oj" + R + " = arith.addi %row0, %ar" + R + " : index\n    %orin" + R + " = arith.cmpi ult, %oj" + R +
            ", %count : index\n" + rowOf("o" + R, "%oj" + R);
  }
  for (int c = 0; c < 8; ++c) {
    std::string C = num(c);
    text += "    %ocg" + C + " = arith.addi %col0, %bc" + C + " : index\n    %ocin" + C + " = arith.cmpi ult, %ocg" + C +
            ", %n : index\n";
  }
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 8; ++c) {
      std::string A = num(r * 8 + c), R = num(r), C = num(c);
      text += "    %in" + A + " = arith.andi %orin" + R + ", %ocin" + C + " : i1\n    scf.if %in" + A + " {\n" +
              storeToY("%sum#" + A, "%yro" + R + ", %ocg" + C, accumulate, "Y" + A) + "    }\n";
    }
  if (grouped)
    text += "    }\n"; // the row tiles' loop
  return text + R"mlir(    }
    scf.reduce
  }
  return
}
)mlir";
}

/// Per expert, the rows routed to it (for the grouped products): groups [E, R + 1] gets in row e the count
/// of routes [R, 2] rows whose expert is e, then those rows in order (f32, exact below 2^24). An expert
/// index past the last counts as the last, as in the routed products.
constexpr const char *kRouteGroupsKernel = R"mlir(
func.func @xf_dense_route_groups(%routes: memref<?x2xf32>, %groups: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_route_groups"}, xf.operand_names = ["routes", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = memref.dim %routes, %c0 : memref<?x2xf32>
  %experts = memref.dim %groups, %c0 : memref<?x?xf32>
  %lastE = arith.subi %experts, %c1 : index
  scf.parallel (%e) = (%c0) to (%experts) step (%c1) {
    %count = scf.for %r = %c0 to %rows step %c1 iter_args(%seen = %c0) -> (index) {
      %eF = memref.load %routes[%r, %c0] : memref<?x2xf32>
      %eI = arith.fptosi %eF : f32 to i32
      %eR = arith.index_cast %eI : i32 to index
      %ex = arith.minui %eR, %lastE : index
      %hit = arith.cmpi eq, %ex, %e : index
      %next = scf.if %hit -> (index) {
        %slot = arith.addi %seen, %c1 : index
        %rI = arith.index_cast %r : index to i32
        %rF = arith.sitofp %rI : i32 to f32
        memref.store %rF, %groups[%e, %slot] : memref<?x?xf32>
        scf.yield %slot : index
      } else {
        scf.yield %seen : index
      }
      scf.yield %next : index
    }
    %cI = arith.index_cast %count : index to i32
    %cF = arith.sitofp %cI : i32 to f32
    memref.store %cF, %groups[%e, %c0] : memref<?x?xf32>
    scf.reduce
  }
  return
}
)mlir";

/// A KV cache's append on the device: rows [S, H, D] into the cache [H, C, D] at rows [base, base + S)
/// (params [base], exact in f32 below 2^24), rounded to the cache's element type; its other rows are left
/// as they are. One kernel per element type a cache has.
std::string cacheStoreKernel(StringRef suffix, StringRef element) {
  std::string store = element == "f32" ? "memref.store %v, %c[%h, %row, %d] : memref<?x?x?xf32>"
                                       : ("%n = arith.truncf %v : f32 to " + element +
                                          "\n    memref.store %n, %c[%h, %row, %d] : memref<?x?x?x" + element + ">")
                                             .str();
  return (R"mlir(
func.func @xf_dense_cache_store)mlir" + suffix + R"mlir((%x: memref<?x?x?xf32>, %params: memref<1xf32>, %c: memref<?x?x?x)mlir" +
          element + R"mlir(>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_cache_store"}, xf.operand_names = ["input", "params", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %s = memref.dim %x, %c0 : memref<?x?x?xf32>
  %heads = memref.dim %x, %c1 : memref<?x?x?xf32>
  %dim = memref.dim %x, %c2 : memref<?x?x?xf32>
  %sh = arith.muli %s, %heads : index
  %items = arith.muli %sh, %dim : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %d = arith.remui %i, %dim : index
    %rest = arith.divui %i, %dim : index
    %h = arith.remui %rest, %heads : index
    %t = arith.divui %rest, %heads : index
    %baseF = memref.load %params[%c0] : memref<1xf32>
    %baseI = arith.fptosi %baseF : f32 to i32
    %base = arith.index_cast %baseI : i32 to index
    %row = arith.addi %base, %t : index
    %v = memref.load %x[%t, %h, %d] : memref<?x?x?xf32>
    )mlir" + store + R"mlir(
    scf.reduce
  }
  return
}
)mlir")
      .str();
}

/// The lines that round f32 `value` to bf16 bits in the low half of i32 %<out>: to nearest even, a NaN kept
/// a quiet NaN (bit for bit the rounding of the runtime's bf16 weights); `id` keeps temporaries apart.
std::string roundToBf16Bits(const std::string &value, const std::string &out, const std::string &id) {
  const std::string in = "    ";
  return in + "%bits" + id + " = arith.bitcast " + value + " : f32 to i32\n" + in + "%top" + id + " = arith.shrui %bits" +
         id + ", %s16 : i32\n" + in + "%abs" + id + " = arith.andi %bits" + id + ", %magnitude : i32\n" + in + "%nan" +
         id + " = arith.cmpi ugt, %abs" + id + ", %inf : i32\n" + in + "%quieted" + id + " = arith.ori %top" + id +
         ", %quiet : i32\n" + in + "%odd" + id + " = arith.andi %top" + id + ", %i1 : i32\n" + in + "%up" + id +
         " = arith.addi %bits" + id + ", %bias : i32\n" + in + "%even" + id + " = arith.addi %up" + id + ", %odd" + id +
         " : i32\n" + in + "%rounded" + id + " = arith.shrui %even" + id + ", %s16 : i32\n" + in + out +
         " = arith.select %nan" + id + ", %quieted" + id + ", %rounded" + id + " : i32\n";
}

/// The bf16 dot products (`xf-run --dot bf16` on CUDA, where cuBLAS runs `xf_dense_dot_bf16` on tensor
/// cores), first of two kernels: `xf_dense_round_bf16` rounds x [M, K] to bf16 pairs [M, ceil(K/2)] (word
/// p: inputs 2p, low half, and 2p + 1, high half, 0 past K). The second is dotBf16Kernel.
std::string roundBf16Kernel() {
  return R"mlir(
func.func @xf_dense_round_bf16(%x: memref<?x?xf32>, %y: memref<?x?xf32>) attributes {
    xf.kernel, xf.kernel_info = {kind = "dense_round_bf16"}, xf.operand_names = ["input", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %s16 = arith.constant 16 : i32
  %i1 = arith.constant 1 : i32
  %bias = arith.constant 32767 : i32
  %quiet = arith.constant 64 : i32
  %magnitude = arith.constant 2147483647 : i32
  %inf = arith.constant 2139095040 : i32
  %m = memref.dim %y, %c0 : memref<?x?xf32>
  %pairs = memref.dim %y, %c1 : memref<?x?xf32>
  %k = memref.dim %x, %c1 : memref<?x?xf32>
  %last = arith.subi %k, %c1 : index
  %items = arith.muli %m, %pairs : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %pairs : index
    %p = arith.remui %i, %pairs : index
    %k0 = arith.muli %p, %c2 : index
    %k1 = arith.addi %k0, %c1 : index
    %k1c = arith.minui %k1, %last : index
    %inside = arith.cmpi ult, %k1, %k : index
    %a = memref.load %x[%row, %k0] : memref<?x?xf32>
    %bLoad = memref.load %x[%row, %k1c] : memref<?x?xf32>
    %b = arith.select %inside, %bLoad, %zero : f32
)mlir" + roundToBf16Bits("%a", "%lo", "A") + roundToBf16Bits("%b", "%hi", "B") + R"mlir(    %hiUp = arith.shli %hi, %s16 : i32
    %word = arith.ori %lo, %hiUp : i32
    %out = arith.bitcast %word : i32 to f32
    memref.store %out, %y[%row, %p] : memref<?x?xf32>
    scf.reduce
  }
  return
}

)mlir";
}

/// `xf_dense_dot_bf16` multiplies bf16 pairs (roundBf16Kernel) by a bf16 weight's [N, ceil(K/2)] into f32
/// y [M, N], both halves of each pair in order, one FMA each; with `accumulate`, `xf_dense_dot_bf16_acc`:
/// y += the product. The compiled form is the reference for what cuBLAS computes (one work item per output:
/// correct everywhere, fast nowhere).
std::string dotBf16Kernel(bool accumulate) {
  const std::string acc = accumulate ? "_acc" : "";
  return "\nfunc.func @xf_dense_dot_bf16" + acc +
         "(%x: memref<?x?xf32>, %w: memref<?x?xf32>, %y: memref<?x?xf32>) attributes {\n    xf.kernel, "
         "xf.kernel_info = {kind = \"dense_dot_bf16" + acc + R"mlir("}, xf.operand_names = ["input", "weight", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %s16 = arith.constant 16 : i32
  %high = arith.constant -65536 : i32
  %m = memref.dim %y, %c0 : memref<?x?xf32>
  %n = memref.dim %y, %c1 : memref<?x?xf32>
  %pairs = memref.dim %x, %c1 : memref<?x?xf32>
  %items = arith.muli %m, %n : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
    %row = arith.divui %i, %n : index
    %col = arith.remui %i, %n : index
    %sum = scf.for %p = %c0 to %pairs step %c1 iter_args(%acc = %zero) -> (f32) {
      %xw = memref.load %x[%row, %p] : memref<?x?xf32>
      %ww = memref.load %w[%col, %p] : memref<?x?xf32>
)mlir" + widenPair("%xw", "%x0", "%x1", "X", "      ") + widenPair("%ww", "%w0", "%w1", "W", "      ") +
         R"mlir(      %s0 = math.fma %x0, %w0, %acc : f32
      %s1 = math.fma %x1, %w1, %s0 : f32
      scf.yield %s1 : f32
    }
)mlir" + storeToY("%sum", "%row, %col", accumulate, "D") + R"mlir(    scf.reduce
  }
  return
}
)mlir";
}

/// A layer's attention inputs straight from its stacked projection x = q | k | v [S, W], in one kernel per
/// destination, instead of slicing the three apart, normalizing and rotating them, transposing the queries
/// and appending the keys and values in separate launches:
///   - `xf_dense_qkv_query`: heads [col0, col0 + H * D) of x rotated (RoPE, as `xf_dense_rope`) into the
///     attention's query layout y [H, S, D];
///   - `xf_dense_qkv_key<suffix>`: the same for the keys, appended to the cache y [H, C, D] at rows
///     [base, base + S) (`at` [base]), rounded to the cache's element type;
///   - `xf_dense_qkv_value<suffix>`: the values, appended likewise, not rotated;
///   - `_norm` (query and keys): each head normalized before the rotation (qk-norm), by RMSNorm or, with
///     `center` 1, by LayerNorm without a bias; gains `norm` [1, D] shared by the heads or [H, D] each head's
///     own, plus the gain offset.
/// `params` is [col0, eps, offset] ([col0, eps, offset, center] with the norm, col0 alone for the values). A
/// work item is one rotated pair or copied element, as in `xf_dense_rope`, or with the norm one (token, head)
/// row, whose mean and squares it computes once. Each value takes the arithmetic of the separate kernels
/// (`xf_dense_rms_norm` or `xf_dense_layer_norm`, the rope, the store), in their order.
std::string qkvKernel(StringRef part, bool normed, StringRef suffix, StringRef element) {
  const bool query = part == "query", value = part == "value";
  const std::string out = query ? "memref<?x?x?xf32>" : ("memref<?x?x?x" + element + ">").str();
  const std::string name = ("xf_dense_qkv_" + part + (normed ? "_norm" : "") + suffix).str();
  // The store of f32 %<v> at (%head, row %<at>, column %<c>) of y.
  auto store = [&](const std::string &v, const std::string &at, const std::string &c, const std::string &id) {
    if (element == "f32")
      return "memref.store " + v + ", %y[%head, " + at + ", " + c + "] : " + out + "\n";
    return "%n" + id + " = arith.truncf " + v + " : f32 to " + element.str() + "\n        memref.store %n" + id +
           ", %y[%head, " + at + ", " + c + "] : " + out + "\n";
  };
  std::string text = "\nfunc.func @" + name + "(%x: memref<?x?xf32>, " +
                     (value ? std::string("%params: memref<1xf32>, %at: memref<1xf32>")
                            : "%cosines: memref<?x?xf32>, %sines: memref<?x?xf32>, " +
                                  std::string(normed ? "%norm: memref<?x?xf32>, %params: memref<4xf32>"
                                                     : "%params: memref<3xf32>") +
                                  std::string(query ? "" : ", %at: memref<1xf32>")) +
                     ", %y: " + out + ") attributes {\n    xf.kernel, xf.kernel_info = {kind = \"dense_qkv_" +
                     part.str() + (normed ? "_norm" : "") + "\"}, xf.operand_names = [\"input\", " +
                     (value ? "\"params\", \"at\""
                            : std::string("\"cos\", \"sin\", ") + (normed ? "\"norm\", " : "") + "\"params\"" +
                                  (query ? "" : ", \"at\"")) +
                     ", \"output\"]} {\n" + R"mlir(  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %s = memref.dim %x, %c0 : memref<?x?xf32>
  %heads = memref.dim %y, %c0 : )mlir" + out + R"mlir(
  %d = memref.dim %y, %c2 : )mlir" + out + "\n";
  // The parameters, loaded in the work loop (a kernel's body outside it is index arithmetic).
  const std::string paramsType = value ? "memref<1xf32>" : normed ? "memref<4xf32>" : "memref<3xf32>";
  std::string loads = "    %col0F = memref.load %params[%c0] : " + paramsType +
                      "\n    %col0I = arith.fptosi %col0F : f32 to i32\n    %col0 = arith.index_cast %col0I : i32 to index\n";
  if (!query)
    loads += "    %baseF = memref.load %at[%c0] : memref<1xf32>\n    %baseI = arith.fptosi %baseF : f32 to i32\n"
             "    %base = arith.index_cast %baseI : i32 to index\n";
  if (normed)
    loads += "    %eps = memref.load %params[%c1] : memref<4xf32>\n    %offset = memref.load %params[%c2] : "
             "memref<4xf32>\n    %center = memref.load %params[%c3] : memref<4xf32>\n";
  const std::string row = query ? "%t" : "%row";
  if (value)
    return text + R"mlir(  %sh = arith.muli %s, %heads : index
  %items = arith.muli %sh, %d : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
)mlir" + loads + R"mlir(    %j = arith.remui %i, %d : index
    %rest = arith.divui %i, %d : index
    %head = arith.remui %rest, %heads : index
    %t = arith.divui %rest, %heads : index
    %row = arith.addi %base, %t : index
    %hd = arith.muli %head, %d : index
    %first = arith.addi %col0, %hd : index
    %c = arith.addi %first, %j : index
    %v = memref.load %x[%t, %c] : memref<?x?xf32>
        )mlir" + store("%v", "%row", "%j", "V") + R"mlir(    scf.reduce
  }
  return
}
)mlir";
  // Normalized: one item per (token, head) computing its norm once, walking all of the head's pairs.
  std::string normalize, a = "%aRaw", b = "%bRaw";
  if (normed) {
    // LayerNorm subtracts the mean (center 1); RMSNorm subtracts 0, leaving every value as it was.
    normalize = R"mlir(    %dI = arith.index_cast %d : index to i32
    %dF = arith.sitofp %dI : i32 to f32
    %gainRows = memref.dim %norm, %c0 : memref<?x?xf32>
    %gainRow = arith.remui %head, %gainRows : index
    %sum = scf.for %c = %c0 to %d step %c1 iter_args(%acc = %zero) -> f32 {
      %col = arith.addi %first, %c : index
      %v = memref.load %x[%t, %col] : memref<?x?xf32>
      %sv = arith.addf %acc, %v : f32
      scf.yield %sv : f32
    }
    %average = arith.divf %sum, %dF : f32
    %mu = arith.mulf %average, %center : f32
    %ss = scf.for %c = %c0 to %d step %c1 iter_args(%acc = %zero) -> f32 {
      %col = arith.addi %first, %c : index
      %v = memref.load %x[%t, %col] : memref<?x?xf32>
      %dv = arith.subf %v, %mu : f32
      %p = math.fma %dv, %dv, %acc : f32
      scf.yield %p : f32
    }
    %mean = arith.divf %ss, %dF : f32
    %shifted = arith.addf %mean, %eps : f32
    %inv = math.rsqrt %shifted : f32
)mlir";
    a = "%a";
    b = "%b";
  }
  auto scale = [&](const std::string &raw, const std::string &at, const std::string &result) -> std::string {
    if (!normed)
      return "";
    return "        %g" + result + "w = memref.load %norm[%gainRow, " + at + "] : memref<?x?xf32>\n        %g" +
           result + " = arith.addf %g" + result + "w, %offset : f32\n        %z" + result + " = arith.subf " + raw +
           ", %mu : f32\n        %n" + result + " = arith.mulf %z" + result + ", %inv : f32\n        %" + result +
           " = arith.mulf %n" + result + ", %g" + result + " : f32\n";
  };
  return text + R"mlir(  %half = memref.dim %cosines, %c1 : memref<?x?xf32>
  %perHead = arith.subi %d, %half : index
  %per = )mlir" + (normed ? "arith.maxui %perHead, %c1" : "arith.addi %c1, %c0") + R"mlir( : index
  %itemsPerHead = arith.divui %perHead, %per : index
  %perToken = arith.muli %heads, %itemsPerHead : index
  %items = arith.muli %s, %perToken : index
  scf.parallel (%i) = (%c0) to (%items) step (%c1) {
)mlir" + loads + R"mlir(    %t = arith.divui %i, %perToken : index
    %rest = arith.remui %i, %perToken : index
    %head = arith.divui %rest, %itemsPerHead : index
    %r = arith.remui %rest, %itemsPerHead : index
    %hd = arith.muli %head, %d : index
    %first = arith.addi %col0, %hd : index
)mlir" + (query ? "" : "    %row = arith.addi %base, %t : index\n") + R"mlir()mlir" + normalize + R"mlir(    %j0 = arith.muli %r, %per : index
    %j1 = arith.addi %j0, %per : index
    scf.for %j = %j0 to %j1 step %c1 {
      %rotates = arith.cmpi ult, %j, %half : index
      %jj = arith.addi %j, %half : index
      %ca = arith.addi %first, %j : index
      %cb = arith.addi %first, %jj : index
      %bRaw = memref.load %x[%t, %cb] : memref<?x?xf32>
)mlir" + scale("%bRaw", "%jj", "b") + R"mlir(      scf.if %rotates {
        %aRaw = memref.load %x[%t, %ca] : memref<?x?xf32>
)mlir" + scale("%aRaw", "%j", "a") + R"mlir(        %cos = memref.load %cosines[%t, %j] : memref<?x?xf32>
        %sin = memref.load %sines[%t, %j] : memref<?x?xf32>
        %ac = arith.mulf )mlir" + a + R"mlir(, %cos : f32
        %bs = arith.mulf )mlir" + b + R"mlir(, %sin : f32
        %lo = arith.subf %ac, %bs : f32
        %bc = arith.mulf )mlir" + b + R"mlir(, %cos : f32
        %as = arith.mulf )mlir" + a + R"mlir(, %sin : f32
        %hi = arith.addf %bc, %as : f32
        )mlir" + store("%lo", row, "%j", "Lo") + "        " + store("%hi", row, "%jj", "Hi") + R"mlir(      } else {
        )mlir" + store(b, row, "%jj", "B") + R"mlir(      }
    }
    scf.reduce
  }
  return
}
)mlir";
}

struct AddDenseKernelsPass : public xf::impl::XFAddDenseKernelsBase<AddDenseKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (subgroupLanes < 0 || subgroupLanes > 128 || (subgroupLanes & (subgroupLanes - 1))) {
      module.emitError("xf-add-dense-kernels: subgroup-lanes must be 0 or a power of two up to 128, got ")
          << subgroupLanes;
      return signalPassFailure();
    }
    std::string source = kDenseKernels;
    source += moeCombineKernel(false) + moeCombineKernel(true) + topKSoftmaxKernel() + scoredRoutingKernel() +
              sparseMixerKernel();
    for (StringRef activation : {"silu", "gelu_tanh", "gelu", "relu", "relu2", "clamped_swiglu"})
      for (bool stacked : {false, true})
        source += gatedActivationKernel(activation, stacked);
    for (StringRef activation : {"silu", "gelu_tanh", "gelu", "relu", "relu2"})
      source += gatedActivationKernel(activation, /*stacked=*/false, /*gated=*/false);
    const int64_t lanes = std::max<int64_t>(subgroupLanes, 1);
    for (bool bf16 : {false, true})
      source += matmulKernel(false, bf16, lanes) + matmulKernel(true, bf16, lanes) +
                matmulKernel(false, bf16, lanes, /*accumulate=*/true) +
                matmulKernel(false, bf16, lanes, /*accumulate=*/false, /*normed=*/true);
    if (tiles) {
      for (bool bf16 : {false, true})
        source += tiledMatmulKernel(bf16, false) + tiledMatmulKernel(bf16, true) +
                  tiledMatmulKernel(bf16, false, /*accumulate=*/true);
      source += kRouteGroupsKernel;
    }
    source += roundBf16Kernel() + dotBf16Kernel(false) + dotBf16Kernel(true);
    for (bool normed : {false, true}) {
      source += qkvKernel("query", normed, "", "f32");
      for (auto [suffix, element] : {std::pair{"", "f32"}, {"_bf16", "bf16"}, {"_f16", "f16"}})
        source += qkvKernel("key", normed, suffix, element) + (normed ? "" : qkvKernel("value", false, suffix, element));
    }
    source += cacheStoreKernel("", "f32") + cacheStoreKernel("_bf16", "bf16") + cacheStoreKernel("_f16", "f16");
    OwningOpRef<ModuleOp> library = parseSourceString<ModuleOp>(source, module.getContext());
    if (!library) {
      module.emitError("xf-add-dense-kernels: the kernel library does not parse (a bug)");
      return signalPassFailure();
    }
    for (Operation &op : llvm::make_early_inc_range(library->getBody()->getOperations())) {
      auto func = cast<func::FuncOp>(op);
      if (module.lookupSymbol(func.getSymName())) {
        module.emitError("xf-add-dense-kernels: the module already defines @") << func.getSymName();
        return signalPassFailure();
      }
      op.moveBefore(module.getBody(), module.getBody()->end());
    }
  }
};

} // namespace
