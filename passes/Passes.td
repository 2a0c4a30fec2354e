//===- Passes.td - xf passes --------------------------------*- tablegen -*-===//
#ifndef XF_PASSES_TD
#define XF_PASSES_TD

include "mlir/Pass/PassBase.td"

def XFLowerAttention : Pass<"xf-lower-attention", "func::FuncOp"> {
  let summary = "Lower memref xf.attention to a fused, tiled online-softmax loop nest in vector form";
  let description = [{
    Rewrites every `xf.attention` on memrefs into one flash-style loop nest. The work is split into
    independent items, one per (batch, query head, block of `block-q` query rows), expressed as an
    `scf.parallel` so that a target can distribute it. Per item:

    1. the query block is packed transposed (`[D][block-q]`) and pre-multiplied by `scale`, so every
       later vector runs along query rows and no horizontal reduction is ever needed;
    2. the key range is computed from `causal` and `window`; key blocks outside it are never visited
       (block sparsity), and blocks entirely inside it skip the per-element mask;
    3. per key block of `block-k` keys: scores `z` (register-blocked over `key-regs` keys), the `score`
       region, masking (causal, window, the `mask` region, key-range tail) with `-inf`, then the online
       softmax update of the running max `m` and denominator `l` (carried as loop values), and the
       rescale-and-accumulate of `P V` into the `[Dv][block-q]` accumulator;
    4. the epilogue divides by `l` (rows that saw no key produce 0) and stores the block.

    No `S x T` score matrix exists: the largest temporary is one `block-k x block-q` tile.

    Before:
    ```mlir
    xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf32>, memref<?x2x?x64xf32>)
                 outs(%o : memref<?x4x?x64xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true}
    ```
    After (abridged):
    ```mlir
    scf.parallel (%w) = (%c0) to (%items) step (%c1) {
      %qt = memref.alloca() {alignment = 64 : i64} : memref<64x32xf32>
      ...                                    // pack Q^T * scale, zero the accumulator
      %r:4 = scf.for %j0 = %lo to %hi step %c64 iter_args(%m0 = %ninf, %m1 = %ninf, %l0 = %zero, %l1 = %zero) -> (vector<16xf32>, ...) {
        ...                                  // z = Q K^T (vector.fma), mask, online softmax (math.exp), acc += P V
      }
      ...                                    // O = acc / l
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", "16", "f32 lanes per vector (16: AVX-512, 8: AVX2/NEON x2)">,
    Option<"blockQ", "block-q", "int64_t", "32", "query rows per work item (a multiple of vector-width)">,
    Option<"blockK", "block-k", "int64_t", "64", "keys per key block (a multiple of key-regs)">,
    Option<"keyRegs", "key-regs", "int64_t", "8", "keys held in registers at once while computing scores">,
    Option<"valueRegs", "value-regs", "int64_t", "8", "value columns held in registers at once while accumulating P V">,
  ];
}

def XFCpuKernelABI : Pass<"xf-cpu-kernel-abi", "ModuleOp"> {
  let summary = "Give xf kernel functions the CPU runtime's work-range ABI and describe them for the runtime";
  let description = [{
    For every function marked `xf.kernel` whose body is one top-level `scf.parallel` (as
    `xf-lower-attention` leaves it), this pass
    - appends two `index` arguments `%begin, %end` and turns the parallel loop into an `scf.for` over
      the work items in `[begin, end)`, so the runtime's thread pool can hand out ranges;
    - adds `@<name>_work_items`, which returns the number of work items for the given operands;
    - marks both `llvm.emit_c_interface`;
    - emits the global `xf_module_info`: a JSON description of every kernel (operands and their static
      shapes, attention attributes) that the runtime reads when it opens the artifact.

    Before:
    ```mlir
    func.func @attn(%q: memref<?x4x?x64xf32>, ...) attributes {xf.kernel, xf.attention_info = {...}} {
      %n = ...
      scf.parallel (%w) = (%c0) to (%n) step (%c1) { ... }
      return
    }
    ```
    After:
    ```mlir
    func.func @attn(%q: memref<?x4x?x64xf32>, ..., %begin: index, %end: index) attributes {llvm.emit_c_interface, ...} {
      %n = ...
      %lo = arith.maxsi %begin, %c0 : index
      %hi = arith.minsi %end, %n : index
      scf.for %w = %lo to %hi step %c1 { ... }
      return
    }
    func.func @attn_work_items(%q: memref<?x4x?x64xf32>, ...) -> index attributes {llvm.emit_c_interface} {
      %n = ...
      return %n : index
    }
    llvm.mlir.global external constant @xf_module_info("{\22format\22:1,...}\00")
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def XFApproximateMath : Pass<"xf-approximate-math"> {
  let summary = "Replace math.exp, math.tanh, ... with vectorizable polynomial approximations";
  let description = [{
    LLVM lowers `math.exp` on vectors to one libm call per lane. The online softmax exponentiates every
    score, so the CPU pipeline rewrites the transcendental functions that attention uses (`exp`, `exp2`,
    `tanh`, `log`, `erf`) into MLIR's upstream polynomial approximations, which stay in vector registers.
    The approximations are accurate to a few ulp on f32 and map `exp(-inf)` to 0, which masking relies on.

    Before:
    ```mlir
    %p = math.exp %x : vector<16xf32>
    ```
    After: a polynomial over `%x` built from `arith` and `math.fma`/`vector` ops (no calls).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"];
}

#endif // XF_PASSES_TD
