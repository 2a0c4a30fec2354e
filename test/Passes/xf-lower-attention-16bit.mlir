// xf-lower-attention on 16-bit operands: every load of a bf16/f16 operand is widened to f32 on the spot and
// the output rounded to its type at the store, in both the decode form and the block form.
// RUN: xf-opt %s --xf-lower-attention="vector-width=16 block-q=16 block-k=16 key-regs=4 value-regs=2 decode-form=true decode-block-k=32" --canonicalize --cse --split-input-file | FileCheck %s
// RUN: xf-opt %s --xf-lower-attention="vector-width=16 block-q=16 block-k=16 key-regs=4 value-regs=2 decode-form=true decode-block-k=32" --xf-cpu-kernel-abi --split-input-file | FileCheck %s --check-prefix=ABI

// CHECK-LABEL: func.func @bf16_cache
// CHECK-SAME: (%[[Q:[a-z0-9]+]]: memref<?x4x?x64xf32>, %[[K:[a-z0-9]+]]: memref<?x2x?x64xbf16>, %[[V:[a-z0-9]+]]: memref<?x2x?x64xbf16>, %[[O:[a-z0-9]+]]: memref<?x4x?x64xbf16>)
// Decode form: a 64-byte line holds 32 bf16 elements, so a 64-wide row takes two prefetches, not four.
// CHECK: memref.prefetch %[[K]][%{{.+}}, %{{.+}}, %{{.+}}, %c0], read, locality<2>, data
// CHECK-NEXT: memref.prefetch %[[K]][%{{.+}}, %{{.+}}, %{{.+}}, %c32], read, locality<2>, data
// CHECK-NEXT: memref.prefetch %[[V]][%{{.+}}, %{{.+}}, %{{.+}}, %c0], read, locality<2>, data
// CHECK-NEXT: memref.prefetch %[[V]][%{{.+}}, %{{.+}}, %{{.+}}, %c32], read, locality<2>, data
// CHECK-NOT: memref.prefetch %[[K]][%{{.+}}, %{{.+}}, %{{.+}}, %c16]
// bf16 rows go as de-interleaved chunk pairs: 32 elements loaded as 16 words, the even elements widened by
// a shift, the odd ones by a mask; the query rows are de-interleaved to match when they are staged.
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xf32>, vector<16xf32>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31] : vector<16xf32>, vector<16xf32>
// CHECK: %[[KX:.+]] = vector.load %[[K]][{{.+}}, %c0] : memref<?x2x?x64xbf16>, vector<32xbf16>
// CHECK-NEXT: %[[KW:.+]] = vector.bitcast %[[KX]] : vector<32xbf16> to vector<16xi32>
// CHECK-NEXT: %[[KE:.+]] = arith.shli %[[KW]], %{{.+}} : vector<16xi32>
// CHECK-NEXT: vector.bitcast %[[KE]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[KO:.+]] = arith.andi %[[KW]], %{{.+}} : vector<16xi32>
// CHECK-NEXT: vector.bitcast %[[KO]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[VX:.+]] = vector.load %[[V]][{{.+}}] : memref<?x2x?x64xbf16>, vector<32xbf16>
// CHECK-NEXT: vector.bitcast %[[VX]] : vector<32xbf16> to vector<16xi32>
// The epilogue interleaves the accumulator pair back into the output's order.
// CHECK: %[[OI:.+]] = vector.shuffle %{{.+}}, %{{.+}} [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23] : vector<16xf32>, vector<16xf32>
// CHECK-NEXT: %[[OV:.+]] = arith.truncf %[[OI]] : vector<16xf32> to vector<16xbf16>
// CHECK-NEXT: vector.store %[[OV]], %[[O]][{{.+}}] : memref<?x4x?x64xbf16>, vector<16xbf16>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31] : vector<16xf32>, vector<16xf32>
// Block form: scalar loads, widened one by one; the f32 query is read as is.
// CHECK: memref.load %[[Q]][{{.+}}] : memref<?x4x?x64xf32>
// CHECK: %[[KS:.+]] = memref.load %[[K]][{{.+}}] : memref<?x2x?x64xbf16>
// CHECK-NEXT: arith.extf %[[KS]] : bf16 to f32
// CHECK: %[[OS:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NEXT: memref.store %[[OS]], %[[O]][{{.+}}] : memref<?x4x?x64xbf16>

// The runtime learns each operand's element type from the module metadata.
// ABI: {\22dtype\22:\22f32\22,\22name\22:\22query\22
// ABI-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22key\22
// ABI-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22output\22
func.func @bf16_cache(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x64xbf16>, %o: memref<?x4x?x64xbf16>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>) outs(%o : memref<?x4x?x64xbf16>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64, causal = true}
  return
}

// -----

// CHECK-LABEL: func.func @f16_values
// CHECK: vector.load %{{.+}} : memref<?x2x?x32xf16>, vector<16xf16>
// CHECK-NEXT: arith.extf %{{.+}} : vector<16xf16> to vector<16xf32>
// CHECK-NOT: arith.truncf
// CHECK: return
func.func @f16_values(%q: memref<?x4x?x64xf32>, %k: memref<?x2x?x64xf16>, %v: memref<?x2x?x32xf16>, %o: memref<?x4x?x32xf32>) attributes {xf.kernel} {
  xf.attention ins(%q, %k, %v : memref<?x4x?x64xf32>, memref<?x2x?x64xf16>, memref<?x2x?x32xf16>) outs(%o : memref<?x4x?x32xf32>) {num_heads = 4, num_kv_heads = 2, scale = 0.125 : f64}
  return
}
