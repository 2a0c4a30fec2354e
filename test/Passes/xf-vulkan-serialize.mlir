// RUN: xf-opt %s --pass-pipeline='builtin.module(xf-gpu-outline-kernels, xf-convert-gpu-to-spirv, spirv.module(spirv-lower-abi-attrs))' | FileCheck %s --check-prefix=ABI
// RUN: xf-opt %s --pass-pipeline='builtin.module(xf-gpu-outline-kernels, xf-convert-gpu-to-spirv, spirv.module(spirv-lower-abi-attrs, spirv-update-vce), xf-vulkan-serialize)' | FileCheck %s

// Upstream's ABI lowering gives each scalar argument (the dynamic dims, descriptor set 1) its own buffer.
// ABI: spirv.GlobalVariable @{{.+}} bind(0, 0) : !spirv.ptr<!spirv.struct<(!spirv.rtarray<f32, stride=4> [0])>, StorageBuffer>
// ABI: spirv.GlobalVariable @{{.+}} bind(1, 0) : !spirv.ptr<!spirv.struct<(i32 [0])>, StorageBuffer>
// ABI: spirv.GlobalVariable @{{.+}} bind(1, 1) : !spirv.ptr<!spirv.struct<(i32 [0])>, StorageBuffer>

// xf-vulkan-serialize merges them into one push-constant block, serializes the module into a global and
// records it on the host function; the GPU and SPIR-V modules are gone.
// CHECK-NOT: gpu.container_module
// CHECK: func.func @double({{.*}}) attributes {xf.gpu_kernel = {binary = "xf_spirv_double", binary_size = [[SIZE:[0-9]+]] : i64, entry = "double", push_constants = [array<i64: 0, 0>, array<i64: 1, 0>], workgroup_size = 64 : i64}, xf.kernel}
// CHECK-NOT: gpu.module
// CHECK-NOT: spirv.module
// The SPIR-V magic number, little endian.
// CHECK: llvm.mlir.global external constant @xf_spirv_double("\03\02#\07{{.*}}") {addr_space = 0 : i32, alignment = 4 : i64}
func.func @double(%x: memref<?x4xf32>, %y: memref<?x4xf32>) attributes {xf.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %two = arith.constant 2.0 : f32
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %j = %c0 to %c4 step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x4xf32>
      %d = arith.mulf %v, %two : f32
      memref.store %d, %y[%i, %j] : memref<?x4xf32>
    }
    scf.reduce
  }
  return
}
