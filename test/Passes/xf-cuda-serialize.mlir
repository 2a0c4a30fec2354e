// RUN: xf-opt %s --xf-cuda-serialize --split-input-file --verify-diagnostics | FileCheck %s

// Each PTX object of a kernel's gpu.binary becomes a NUL-terminated global named after the kernel and the
// architecture; the host function's launch description lists them.
// CHECK: module {
// CHECK: func.func @attn() attributes {xf.gpu_kernel = {entry = "attn", ptx = [{arch = 80 : i64, size = 12 : i64, symbol = "xf_ptx_attn_sm80"}, {arch = 90 : i64, size = 12 : i64, symbol = "xf_ptx_attn_sm90"}], push_constants = [], workgroup_size = 64 : i64}}
// CHECK-DAG: llvm.mlir.global external constant @xf_ptx_attn_sm80(".target 80\0A\00")
// CHECK-DAG: llvm.mlir.global external constant @xf_ptx_attn_sm90(".target 90\0A\00")
// CHECK-NOT: gpu.binary
module attributes {gpu.container_module} {
  func.func @attn() attributes {xf.gpu_kernel = {entry = "attn", push_constants = [], workgroup_size = 64 : i64}} {
    return
  }
  gpu.binary @attn_gpu [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = ".target 80\0A">,
                        #gpu.object<#nvvm.target<chip = "sm_90a">, assembly = ".target 90\0A">]
}

// -----

module attributes {gpu.container_module} {
  func.func @attn() attributes {xf.gpu_kernel = {entry = "attn", push_constants = [], workgroup_size = 64 : i64}} {
    return
  }
  // expected-error @+1 {{expected PTX objects (format=isa) for #nvvm.target chips sm_XX}}
  gpu.binary @attn_gpu [#gpu.object<#nvvm.target<chip = "sm_80">, bin = "cubin">]
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{no host function with xf.gpu_kernel for kernel 'other'}}
  gpu.binary @other_gpu [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = "x">]
}

// -----

// A libdevice function left unresolved (no toolkit found) is an error, not PTX that no driver can load.
module attributes {gpu.container_module} {
  func.func @attn() attributes {xf.gpu_kernel = {entry = "attn", push_constants = [], workgroup_size = 64 : i64}} {
    return
  }
  // expected-error @+1 {{kernel 'attn' calls '__nv_expf', which libdevice provides: point the CUDA pipeline at a toolkit with nvvm/libdevice (xfc --cuda-path)}}
  gpu.binary @attn_gpu [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = ".extern .func  (.param .b32 func_retval0) __nv_expf\0A(\0A">]
}
