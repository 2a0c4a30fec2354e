// RUN: xf-opt %s --xf-cpu-kernel-abi --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @kernel_work_items
// CHECK-SAME: (%[[Q:.+]]: memref<?x2x?x8xf32>, %{{.+}}: memref<?x2x?x8xf32>) -> index attributes {llvm.emit_c_interface}
// CHECK: %[[D:.+]] = memref.dim %[[Q]], %c0
// CHECK: %[[N:.+]] = arith.muli %[[D]], %c2
// CHECK-NOT: scf.for
// CHECK-NOT: memref.alloca
// CHECK: return %[[N]] : index

// CHECK-LABEL: func.func @kernel
// CHECK-SAME: (%{{.+}}: memref<?x2x?x8xf32>, %[[OUT:.+]]: memref<?x2x?x8xf32>, %[[BEGIN:.+]]: index, %[[END:.+]]: index)
// CHECK-SAME: llvm.emit_c_interface
// Scratch moves to the entry so that a range of items does not grow the stack.
// CHECK: %[[SCRATCH:.+]] = memref.alloca() : memref<8xf32>
// CHECK: %[[N:.+]] = arith.muli
// CHECK: %[[LO:.+]] = arith.maxsi %[[BEGIN]], %c0
// CHECK: %[[HI:.+]] = arith.minsi %[[END]], %[[N]]
// CHECK: scf.for %[[W:.+]] = %[[LO]] to %[[HI]] step %c1 {
// CHECK:   memref.store %{{.+}}, %[[SCRATCH]][%c0]
// CHECK: }
// CHECK: return{{$}}

// The runtime's description of the kernels.
// CHECK: llvm.mlir.global external constant @xf_module_info(
// CHECK-SAME: \22entry\22:\22_mlir_ciface_kernel\22
// CHECK-SAME: \22kind\22:\22attention\22
// CHECK-SAME: \22operands\22:[{\22dtype\22:\22f32\22,\22name\22:\22query\22,\22shape\22:[-1,2,-1,8]},{\22dtype\22:\22f32\22,\22name\22:\22output\22,\22shape\22:[-1,2,-1,8]}]
// CHECK-SAME: \22work_items\22:\22_mlir_ciface_kernel_work_items\22
func.func @kernel(%q: memref<?x2x?x8xf32>, %o: memref<?x2x?x8xf32>) -> memref<?x2x?x8xf32>
    attributes {xf.kernel, xf.attention_info = {num_heads = 2 : i64, causal = true}, xf.operand_names = ["query", "output"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %cst = arith.constant 1.0 : f32
  %b = memref.dim %q, %c0 : memref<?x2x?x8xf32>
  %n = arith.muli %b, %c2 : index
  scf.parallel (%w) = (%c0) to (%n) step (%c1) {
    %scratch = memref.alloca() : memref<8xf32>
    memref.store %cst, %scratch[%c0] : memref<8xf32>
    scf.reduce
  }
  return %o : memref<?x2x?x8xf32>
}

// -----

// expected-error @+1 {{xf kernel must contain one one-dimensional top-level scf.parallel}}
func.func @no_loop(%q: memref<4xf32>) attributes {xf.kernel} {
  return
}

// -----

// expected-error @+1 {{xf kernel must write its outputs into arguments, not return new values}}
func.func @returns_new(%q: memref<4xf32>) -> memref<4xf32> attributes {xf.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%w) = (%c0) to (%c1) step (%c1) {
    scf.reduce
  }
  %m = memref.alloc() : memref<4xf32>
  return %m : memref<4xf32>
}
