# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "xf"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".xf", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.xf_obj_root, "test")
# Inputs/ hold files that tests read; unit/, reference/ and fuzz/ are not lit tests.
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "reference", "fuzz"]

# Captured FileCheck variables do not leak across CHECK-LABELs.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.xf_tools_dir, append_path=True)

# Debian's numpy lives with /usr/bin/python3, not with whatever python3 comes first on PATH.
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%xf_src", config.xf_src_root))
config.substitutions.append(("%xf_obj", config.xf_obj_root))

llvm_config.add_tool_substitutions(["xf-opt", "xfc", "xf-run"], [config.xf_tools_dir])
config.substitutions.append(("%cc", "clang-22"))

# The runtime built for aarch64 (XF_AARCH64_RUNTIME), which `xfc --target-triple=aarch64-linux-gnu` links into
# executables and self-contained libraries; scripts/setup installs what it needs, so CI builds and tests it.
if config.xf_aarch64_runtime:
    config.available_features.add("aarch64-runtime")

# Vulkan tests need a Vulkan device (Mesa's lavapipe in CI). They run with the validation layer when it is
# installed; with XF_REQUIRE_VULKAN set, a machine without a device is an error rather than a skip.
import subprocess
try:
    devices = subprocess.run([os.path.join(config.xf_tools_dir, "xf-run"), "devices"], capture_output=True, text=True,
                             timeout=60)
except (OSError, subprocess.TimeoutExpired) as error:
    lit_config.fatal("cannot list devices with xf-run (is xf built?): " + str(error))
if "vulkan:0:" in devices.stdout:
    config.available_features.add("vulkan")
if "vulkan:0: llvmpipe" in devices.stdout:
    config.available_features.add("llvmpipe")
elif os.environ.get("XF_REQUIRE_VULKAN"):
    lit_config.fatal("XF_REQUIRE_VULKAN is set but xf-run devices finds no Vulkan device:\n" + devices.stdout + devices.stderr)
if os.path.exists("/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json"):
    config.environment["XF_VULKAN_VALIDATION"] = "1"

# CUDA: compiling needs the toolkit (libdevice for the math functions; ptxas checks the PTX). Execution tests
# need a CUDA device (sm_80 or newer) and report unsupported elsewhere; with XF_REQUIRE_CUDA set, a machine
# without one is an error rather than a skip.
cuda_root = "/usr/local/cuda"  # where xfc looks for libdevice unless --cuda-path says otherwise
if os.path.exists(os.path.join(cuda_root, "bin", "ptxas")) and os.path.isdir(os.path.join(cuda_root, "nvvm", "libdevice")):
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%ptxas", os.path.join(cuda_root, "bin", "ptxas")))
    # The toolkit's stub libcuda resolves every driver symbol the runtime loads, and cuInit fails on it.
    config.substitutions.append(("%cuda_stub", os.path.join(cuda_root, "lib64", "stubs", "libcuda.so")))
if "\ncuda:0:" in "\n" + devices.stdout:
    config.available_features.add("cuda")
elif os.environ.get("XF_REQUIRE_CUDA"):
    lit_config.fatal("XF_REQUIRE_CUDA is set but xf-run devices finds no CUDA device:\n" + devices.stdout + devices.stderr)
