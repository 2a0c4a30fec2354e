//===- xfc.cpp - the xf compiler driver -----------------------------------===//
//
// xfc model.xf|config.json|model-folder|kernel.mlir [--emit=ast|spec|xf|lowered|llvm|obj|lib|exe] [-o out]
//
//===----------------------------------------------------------------------===//
#include "frontend/MLIRGen.h"
#include "frontend/ModelPlan.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "frontend/SpecPrinter.h"
#include "frontend/hf/ConfigImporter.h"
#include "passes/InitAll.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace llvm;

namespace {
enum class Emit { AST, Spec, XF, Lowered, SPIRV, PTX, LLVM, Obj, Lib, Exe };

cl::OptionCategory xfcOptions("xfc options");

cl::opt<std::string> inputFile(cl::Positional,
                               cl::desc("<model.xf | config.json | folder with a config.json | kernel.mlir>"),
                               cl::Required, cl::cat(xfcOptions));
cl::opt<std::string> outputFile("o", cl::desc("Output file ('-' for stdout; required for obj and lib)"),
                                cl::value_desc("file"), cl::init("-"), cl::cat(xfcOptions));
cl::opt<Emit> emit("emit", cl::desc("What to produce"), cl::init(Emit::Lib),
                   cl::values(clEnumValN(Emit::AST, "ast", "the parsed specification"),
                              clEnumValN(Emit::Spec, "spec", "the canonical .xf specification (also of a config.json)"),
                              clEnumValN(Emit::XF, "xf", "xf IR on tensors"),
                              clEnumValN(Emit::Lowered, "lowered", "loops on memrefs with the kernel ABI (GPU targets: the outlined GPU kernels)"),
                              clEnumValN(Emit::SPIRV, "spirv", "--target=vulkan: one SPIR-V module per kernel, <kernel>.spv in the folder -o names"),
                              clEnumValN(Emit::PTX, "ptx", "--target=cuda: each kernel's PTX, <kernel>.sm_80.ptx and <kernel>.sm_90.ptx in the folder -o names"),
                              clEnumValN(Emit::LLVM, "llvm", "optimized LLVM IR"),
                              clEnumValN(Emit::Obj, "obj", "an object file"),
                              clEnumValN(Emit::Lib, "lib", "a shared library and its C header"),
                              clEnumValN(Emit::Exe, "exe", "a standalone executable that runs the model (runtime linked in)")),
                   cl::cat(xfcOptions));
cl::opt<std::string> target("target",
                            cl::desc("Target device: cpu, vulkan (kernels as SPIR-V, run by the runtime's Vulkan "
                                     "device) or cuda (kernels as PTX for sm_80 and sm_90, run by its CUDA device)"),
                            cl::init("cpu"), cl::cat(xfcOptions));
cl::opt<std::string> cudaPath("cuda-path",
                              cl::desc("--target=cuda: the CUDA toolkit whose nvvm/libdevice the kernels link "
                                       "(default: $CUDA_HOME, else /usr/local/cuda)"),
                              cl::cat(xfcOptions));
cl::opt<std::string> kvDtype("kv-dtype",
                            cl::desc("The KV cache's element type in models: f32, bf16 or f16 (default: the spec's, "
                                     "f32 unless its attention sets kv_dtype); 16-bit caches halve decode "
                                     "attention's bytes"),
                            cl::cat(xfcOptions));
cl::opt<std::string> targetTriple("target-triple", cl::desc("LLVM target triple (default: this host)"),
                                  cl::cat(xfcOptions));
cl::opt<std::string> mcpu("mcpu", cl::desc("Target CPU (default: this host's, 'generic' for portable code)"),
                          cl::cat(xfcOptions));
cl::opt<std::string> mattr("mattr", cl::desc("Target features, e.g. +avx2,+fma (default: the CPU's)"),
                           cl::cat(xfcOptions));
cl::opt<std::string> headerFile("header", cl::desc("Where --emit=lib writes the C header (default: output with .h)"),
                                cl::cat(xfcOptions));
cl::list<std::string> variants("variant",
                               cl::desc("A variant pass to apply to the xf IR before the target pipeline, with its "
                                        "options, e.g. 'xf-attention-sinks{mode=learned}'; repeatable, applied "
                                        "in order"),
                               cl::value_desc("pass"), cl::cat(xfcOptions));
cl::list<std::string> passPlugins("load-pass-plugin",
                                  cl::desc("Load a pass plugin (an out-of-tree variant), then use its passes "
                                           "with --variant"),
                                  cl::value_desc("plugin.so"), cl::cat(xfcOptions));
cl::opt<int64_t> workgroupSize("workgroup-size",
                               cl::desc("GPU targets: threads per workgroup (one work item each), 1 to 1024; the "
                                        "best value depends on the device (default 64)"),
                               cl::init(64), cl::cat(xfcOptions));
cl::opt<int64_t> gpuWorkgroupMemory(
    "gpu-workgroup-memory",
    cl::desc("GPU targets: bytes of workgroup memory attention's staged K/V tiles may take, and again its decode "
             "splits' partial states (default 16384, what every Vulkan device offers; the runtime checks a "
             "kernel's total against the device)"),
    cl::init(16384), cl::cat(xfcOptions));
cl::opt<int64_t> subgroupGlobalSplits(
    "xf-subgroup-global-splits",
    cl::desc("--target=cuda: a decode row's keys split over this many warps of the launch instead of the "
             "workgroup's, their partial states combined through scratch by the last to finish (not yet run on "
             "a GPU: the GPU kit checks and times it; default 1, off)"),
    cl::init(1), cl::Hidden, cl::cat(xfcOptions));
cl::opt<bool> gpuStageKeyValue("gpu-stage-kv",
                               cl::desc("GPU targets: the threads of a workgroup share each key block of K and V "
                                        "in workgroup memory (default on; =false: every thread reads them itself)"),
                               cl::init(true), cl::cat(xfcOptions));
cl::opt<int64_t> gpuSubgroupLanes(
    "gpu-subgroup-lanes",
    cl::desc("GPU targets: attention with S <= 16 query rows (decode) gives each row this many lanes of one "
             "subgroup, which split the head dims and sum each score with subgroup shuffles; 0 gives each row "
             "one thread (default: 8 on Vulkan, the smallest subgroups common devices have; 32 on CUDA, a warp)"),
    cl::init(-1), cl::cat(xfcOptions));
cl::opt<bool> cudaTensorCores(
    "cuda-tensor-cores",
    cl::desc("--target=cuda: attention on bf16 or f16 keys and values (every variant; the query and the "
             "probabilities are rounded to their type) "
             "runs on tensor cores (mma.sync m16n8k16, f32 accumulators). Its PTX assembles for sm_80 and sm_90 "
             "and its fragment bookkeeping is tested in a CPU emulation, but it has not run on a GPU yet: off by "
             "default"),
    cl::init(false), cl::cat(xfcOptions));
cl::opt<bool> emulateTensorCores("xf-emulate-tensor-cores",
                                 cl::desc("CPU targets, for tests: attention the tensor-core form takes runs its CPU "
                                          "emulation (each warp one work item of 32-lane vectors)"),
                                 cl::init(false), cl::Hidden, cl::cat(xfcOptions));
cl::opt<bool> tensorCoreDirectLoads("xf-tensor-cores-direct-loads",
                                   cl::desc("The tensor-core form (CUDA or its emulation) loads K/V fragments "
                                            "straight from global memory instead of staging blocks in workgroup "
                                            "memory"),
                                   cl::init(false), cl::Hidden, cl::cat(xfcOptions));
cl::opt<int64_t> tensorCoreSplitMinKeys("xf-tensor-cores-split-min-keys",
                                       cl::desc("The tensor-core form (CUDA or its emulation) splits a row block's "
                                                "keys over several warps while each split keeps at least this many "
                                                "keys (0: never split)"),
                                       cl::init(256), cl::Hidden, cl::cat(xfcOptions));
cl::opt<int64_t> tensorCoreMTiles("xf-tensor-cores-m-tiles",
                                 cl::desc("The tensor-core form's m-tiles of 16 rows per warp: 1 or 2 (default 0: 2 "
                                          "for head dims up to 96, every K/V fragment feeding two multiplies; else 1)"),
                                 cl::init(0), cl::Hidden, cl::cat(xfcOptions));
cl::opt<bool> staticRuntime("static-runtime",
                            cl::desc("--emit=lib: link the runtime into the library, which then exports the xfrt "
                                     "C API itself and needs no libxfrt.so"),
                            cl::init(false), cl::cat(xfcOptions));
cl::opt<unsigned> llvmOptLevel("xf-llvm-opt-level",
                               cl::desc("LLVM's optimization and code generation level for CPU code, 0 to 3 (default "
                                        "3); tests compiling large emulated kernels use less"),
                               cl::init(3), cl::Hidden, cl::cat(xfcOptions));
cl::opt<bool> timePasses("xf-time-passes", cl::desc("Print a report of the time each xf pass takes"), cl::init(false),
                         cl::cat(xfcOptions));

[[noreturn]] void fatal(const Twine &msg) {
  errs() << "xfc: error: " << msg << "\n";
  exit(1);
}

/// Whether --target-triple names another machine than this host.
bool crossTarget() { return !targetTriple.empty() && Triple(targetTriple) != Triple(sys::getProcessTriple()); }

/// The folder with the runtime archives and the model launcher for the target, relative to xfc in the
/// build tree and once installed alike: lib/xf for this host, lib/xf/<arch>-<os>-<environment> for another
/// (lib/xf/aarch64-linux-gnu, built with XF_AARCH64_RUNTIME). `what` names the option that needs it.
SmallString<256> runtimeDir(const char *argv0, void *mainAddr, StringRef what) {
  std::string self = sys::fs::getMainExecutable(argv0, mainAddr);
  SmallString<256> dir(sys::path::parent_path(self));
  sys::path::append(dir, XF_EMBED_DIR_FROM_BIN);
  sys::path::remove_dots(dir, /*remove_dot_dot=*/true);
  if (!crossTarget())
    return dir;
  Triple triple(Triple::normalize(targetTriple));
  std::string name = (triple.getArchName() + "-" + triple.getOSName() + "-" + triple.getEnvironmentName()).str();
  sys::path::append(dir, name);
  if (!sys::fs::is_directory(dir))
    fatal(what + ": there is no runtime for '" + targetTriple + "' (looked for " + dir.str() +
          "; xf builds one for aarch64-linux-gnu with -DXF_AARCH64_RUNTIME=ON)");
  return dir;
}

/// Writes what `print` prints to -o (stdout by default) and exits. exit() runs no destructors: the file is
/// flushed and closed first, or a buffered tail (a short spec: all of it) would be lost.
[[noreturn]] void writeAndExit(llvm::function_ref<void(raw_ostream &)> print) {
  std::string error;
  auto out = mlir::openOutputFile(outputFile, &error);
  if (!out)
    fatal(error);
  print(out->os());
  out->os().flush();
  if (out->os().has_error())
    fatal("cannot write '" + outputFile + "': " + out->os().error().message());
  out->keep();
  out.reset();
  exit(0);
}

/// Parses, checks and lowers a .xf file, or imports a Hugging Face config.json, to xf IR; null on error
/// (already reported). `spec` receives the checked specification.
mlir::OwningOpRef<mlir::ModuleOp> loadSpec(mlir::MLIRContext &ctx, SourceMgr &sm, bool hfConfig,
                                           std::optional<xf::Spec> &spec) {
  if (hfConfig) {
    if (emit == Emit::AST)
      fatal("--emit=ast shows the syntax of a .xf file; use --emit=spec for a config.json");
    std::optional<xf::ModelSpec> model = xf::importHFConfig(sm, sm.getMainFileID());
    if (!model)
      return nullptr;
    spec.emplace();
    spec->models.push_back(std::move(*model));
  } else {
    std::optional<xf::SpecFile> file = xf::parseSpec(sm, sm.getMainFileID());
    if (!file)
      return nullptr;
    if (emit == Emit::AST)
      writeAndExit([&](raw_ostream &os) { xf::printAST(*file, os); });
    spec = xf::analyzeSpec(*file, sm);
    if (!spec)
      return nullptr;
  }
  if (!kvDtype.empty()) {
    if (kvDtype != "f32" && kvDtype != "bf16" && kvDtype != "f16")
      fatal("--kv-dtype must be f32, bf16 or f16, got '" + kvDtype + "'");
    if (spec->models.empty())
      fatal("--kv-dtype applies to models; " + inputFile + " has none (set kv_dtype in an attention kernel)");
    xf::DType dtype = kvDtype == "f32" ? xf::DType::F32 : kvDtype == "bf16" ? xf::DType::BF16 : xf::DType::F16;
    for (xf::ModelSpec &model : spec->models) {
      model.attention.kvDtype = dtype;
      for (xf::LayerSpec &layer : model.layers)
        layer.attention.kvDtype = dtype;
    }
  }
  if (emit == Emit::Spec)
    writeAndExit([&](raw_ostream &os) { xf::printSpec(*spec, os); });
  return xf::generateModule(ctx, *spec, sm);
}

/// Records the model's plan (frontend/ModelPlan.h) for the kernel ABI pass to put in the artifact's
/// metadata. A model the runtime cannot run still compiles: its artifact serves the attention kernels.
void attachModelPlan(mlir::ModuleOp module, const xf::ModelSpec &model) {
  Expected<json::Value> plan = xf::describeModelPlan(model, module);
  if (!plan) {
    errs() << "xfc: warning: " << toString(plan.takeError())
           << "; the artifact holds the model's attention kernels only\n";
    return;
  }
  std::string text;
  raw_string_ostream(text) << *plan;
  module->setAttr("xf.model_plan", mlir::StringAttr::get(module.getContext(), text));
}

struct TargetChoice {
  std::unique_ptr<TargetMachine> machine;
  mlir::xf::CpuTargetDescription description;
};

TargetChoice chooseTarget() {
  InitializeAllTargetInfos();
  InitializeAllTargets();
  InitializeAllTargetMCs();
  InitializeAllAsmPrinters();
  std::string tripleName = targetTriple.empty() ? sys::getProcessTriple() : targetTriple.getValue();
  bool host = targetTriple.empty() || Triple(tripleName) == Triple(sys::getProcessTriple());
  std::string cpu = !mcpu.empty() ? mcpu.getValue() : host ? sys::getHostCPUName().str() : "generic";
  std::string features = mattr;
  if (features.empty() && host && cpu == sys::getHostCPUName()) {
    SmallVector<std::string> list;
    for (const auto &f : sys::getHostCPUFeatures())
      list.push_back((f.second ? "+" : "-") + f.first().str());
    features = join(list, ",");
  }
  Triple triple(tripleName);
  std::string error;
  const Target *t = TargetRegistry::lookupTarget(triple, error);
  if (!t)
    fatal("target triple '" + tripleName + "': " + error);
  TargetChoice choice;
  choice.machine.reset(t->createTargetMachine(triple, cpu, features, TargetOptions(), Reloc::PIC_,
                                              std::nullopt, *CodeGenOpt::getLevel(static_cast<int>(llvmOptLevel))));
  if (!choice.machine)
    fatal("cannot create a target machine for '" + tripleName + "' cpu '" + cpu + "'");
  // Ask the subtarget, which knows the features a named CPU implies, which vector width to use.
  const MCSubtargetInfo *subtarget = choice.machine->getMCSubtargetInfo();
  bool avx512 = triple.isX86() && subtarget->checkFeatures("+avx512f");
  choice.description = mlir::xf::CpuTargetDescription::fromFeatures(avx512 ? "+avx512f" : "");
  return choice;
}

void runPasses(mlir::ModuleOp module, function_ref<void(mlir::OpPassManager &)> build) {
  mlir::PassManager pm(module->getContext());
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    fatal("bad pass manager options");
  if (timePasses)
    pm.enableTiming();
  build(pm);
  if (failed(pm.run(module)))
    exit(1);
}

std::string cTypeOf(mlir::MemRefType type) { return "xf_memref_f32_" + std::to_string(type.getRank()) + "d"; }

/// The C header of a library: the descriptor types and one entry (plus its work counter) per kernel.
/// Writes every embedded SPIR-V module (the `xf_spirv_<kernel>` globals) to <folder>/<kernel>.spv.
void writeSpirvModules(mlir::ModuleOp module, StringRef folder) {
  if (std::error_code ec = sys::fs::create_directories(folder))
    fatal("cannot create '" + folder.str() + "': " + ec.message());
  for (auto global : module.getOps<mlir::LLVM::GlobalOp>()) {
    StringRef kernel = global.getSymName();
    if (!kernel.consume_front("xf_spirv_"))
      continue;
    SmallString<256> path(folder);
    sys::path::append(path, kernel + ".spv");
    std::string error;
    auto out = mlir::openOutputFile(path, &error);
    if (!out)
      fatal(error);
    out->os() << cast<mlir::StringAttr>(*global.getValue()).getValue();
    out->keep();
  }
}

/// Writes every embedded PTX image (the `xf_ptx_<kernel>_sm<NN>` globals, NUL-terminated) to
/// <folder>/<kernel>.sm_<NN>.ptx.
void writePtxModules(mlir::ModuleOp module, StringRef folder) {
  if (std::error_code ec = sys::fs::create_directories(folder))
    fatal("cannot create '" + folder.str() + "': " + ec.message());
  for (auto global : module.getOps<mlir::LLVM::GlobalOp>()) {
    StringRef name = global.getSymName();
    if (!name.consume_front("xf_ptx_"))
      continue;
    auto [kernel, arch] = name.rsplit("_sm");
    SmallString<256> path(folder);
    sys::path::append(path, kernel + ".sm_" + arch + ".ptx");
    std::string error;
    auto out = mlir::openOutputFile(path, &error);
    if (!out)
      fatal(error);
    out->os() << cast<mlir::StringAttr>(*global.getValue()).getValue().rtrim('\0');
    out->keep();
  }
}

/// `gpu`: empty for cpu, else the GPU target (vulkan, cuda).
void writeHeader(mlir::ModuleOp lowered, StringRef path, StringRef libName, StringRef gpu) {
  std::string error;
  auto out = mlir::openOutputFile(path, &error);
  if (!out)
    fatal(error);
  raw_ostream &os = out->os();
  std::string guard = "XF_" + sys::path::stem(path).upper() + "_H";
  for (char &c : guard)
    if (!isalnum(static_cast<unsigned char>(c)))
      c = '_';
  os << "/* Generated by xfc from " << inputFile << " for " << libName << ". Do not edit. */\n"
     << "#ifndef " << guard << "\n#define " << guard << "\n\n#include <stdint.h>\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
     << "/* MLIR strided memref descriptors: for a dense row-major tensor, allocated = aligned = data,\n"
     << "   offset = 0, sizes = the shape, strides = the row-major strides (in elements). */\n";
  if (gpu == "vulkan")
    os << "/* The kernels are SPIR-V in the library: run them with xfrt_kernel_run (xfrt.h) on a context\n"
       << "   created for a Vulkan device. The work-item counters below are host code. */\n";
  else if (gpu == "cuda")
    os << "/* The kernels are PTX in the library: run them with xfrt_kernel_run (xfrt.h) on a context\n"
       << "   created for a CUDA device. The work-item counters below are host code. */\n";
  std::set<int64_t> ranks;
  lowered.walk([&](mlir::func::FuncOp f) {
    if (f->hasAttr("xf.kernel"))
      for (mlir::Type t : f.getArgumentTypes())
        if (auto m = dyn_cast<mlir::MemRefType>(t))
          ranks.insert(m.getRank());
  });
  for (int64_t r : ranks)
    os << "typedef struct { float *allocated; float *aligned; int64_t offset; int64_t sizes[" << r
       << "]; int64_t strides[" << r << "]; } xf_memref_f32_" << r << "d;\n";
  os << "\n/* JSON description of the kernels, read by the xf runtime (xfrt_module_open). */\n"
     << "extern const char xf_module_info[];\n";
  lowered.walk([&](mlir::func::FuncOp f) {
    if (!f->hasAttr("xf.kernel"))
      return;
    auto names = f->getAttrOfType<mlir::ArrayAttr>("xf.operand_names");
    std::string args, shapes;
    unsigned n = 0;
    for (auto [i, t] : llvm::enumerate(f.getArgumentTypes())) {
      auto m = dyn_cast<mlir::MemRefType>(t);
      if (!m)
        continue;
      std::string name = names && i < names.size() ? cast<mlir::StringAttr>(names[i]).str() : "arg" + std::to_string(i);
      args += (n++ ? ", " : "") + cTypeOf(m) + " *" + name;
      shapes += "     " + name + " [";
      for (auto [j, d] : llvm::enumerate(m.getShape()))
        shapes += (j ? ", " : "") + (mlir::ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d));
      shapes += "]\n";
    }
    os << "\n/* Kernel '" << f.getSymName() << "'. Operands (? = given per call):\n" << shapes;
    if (auto info = f->getAttrOfType<mlir::DictionaryAttr>("xf.attention_info")) {
      os << "   Attention:";
      for (mlir::NamedAttribute a : info) {
        os << " " << a.getName().strref() << "=";
        if (auto i = dyn_cast<mlir::IntegerAttr>(a.getValue()))
          os << (i.getType().isInteger(1) ? (i.getValue().getBoolValue() ? "true" : "false")
                                          : std::to_string(i.getInt()));
        else if (auto fl = dyn_cast<mlir::FloatAttr>(a.getValue()))
          os << fl.getValueAsDouble();
        else if (auto bl = dyn_cast<mlir::BoolAttr>(a.getValue()))
          os << (bl.getValue() ? "true" : "false");
      }
      os << "\n";
    }
    os << "   Runs work items [begin, end) of _work_items(...); items are independent, so threads may\n"
       << "   run disjoint ranges concurrently. */\n";
    if (gpu.empty())
      os << "void _mlir_ciface_" << f.getSymName() << "(" << args << ", int64_t begin, int64_t end);\n";
    os << "int64_t _mlir_ciface_" << f.getSymName() << "_work_items(" << args << ");\n";
  });
  os << "\n#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
  out->keep();
}

void emitObject(llvm::Module &module, TargetMachine &tm, StringRef path) {
  std::error_code ec;
  ToolOutputFile out(path, ec, sys::fs::OF_None);
  if (ec)
    fatal("cannot write '" + path + "': " + ec.message());
  legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, out.os(), nullptr, CodeGenFileType::ObjectFile))
    fatal("the target cannot emit object files");
  pm.run(module);
  out.keep();
}

/// The link arguments that put the runtime into a model library: its objects whole (they are what the
/// library exports), then what they use, with only the C API and the model's own symbols exported.
std::vector<std::string> staticRuntimeArguments(const char *argv0, StringRef versionScript) {
  SmallString<256> dir =
      runtimeDir(argv0, reinterpret_cast<void *>(&staticRuntimeArguments), "--static-runtime");
  SmallString<256> runtime(dir), deps(dir);
  sys::path::append(runtime, "libxfrt_static.a");
  sys::path::append(deps, "libxfrt_deps.a");
  for (StringRef archive : {StringRef(runtime), StringRef(deps)})
    if (!sys::fs::exists(archive))
      fatal("--static-runtime: the runtime archive '" + archive.str() + "' is missing (is xf fully installed?)");
  std::string error;
  auto script = mlir::openOutputFile(versionScript, &error);
  if (!script)
    fatal(error);
  // The runtime's statically linked LLVM and Halide stay local, so another LLVM in the process cannot clash.
  script->os() << "{ global: xfrt_*; xf_module_info; xf_spirv_*; xf_ptx_*; _mlir_ciface_*; local: *; };\n";
  script->keep();
  return {"-Wl,--whole-archive", std::string(runtime), "-Wl,--no-whole-archive", std::string(deps), "-lstdc++",
          "-lpthread", "-ldl", "-Wl,-Bsymbolic", "-Wl,--version-script=" + versionScript.str()};
}

void linkSharedLibrary(StringRef object, StringRef output, ArrayRef<std::string> extra = {}) {
  std::string driver = XF_LINKER_DRIVER;
  if (!sys::fs::can_execute(driver)) {
    auto found = sys::findProgramByName("cc");
    if (!found)
      fatal("no linker driver found (looked for " + driver + " and cc)");
    driver = *found;
  }
  SmallVector<StringRef> args = {driver, "-shared", "-o", output, object};
  for (const std::string &arg : extra)
    args.push_back(arg);
  args.push_back("-lm");
  // Another architecture: the driver links for it with lld against its Debian cross sysroot
  // (e.g. libc6-dev-arm64-cross for aarch64-linux-gnu).
  std::string targetFlag;
  if (crossTarget()) {
    targetFlag = "--target=" + targetTriple;
    args.append({targetFlag, "-fuse-ld=lld"});
  }
  std::string error;
  int rc = sys::ExecuteAndWait(driver, args, std::nullopt, {}, 0, 0, &error);
  if (rc != 0)
    fatal("linking '" + output + "' failed" + (error.empty() ? "" : ": " + error));
}
/// The launcher (xf-run's model mode, runtime linked in) followed by the model library and a trailer that
/// the launcher looks for at start: "XFMODEL1" and the library's size, 8 bytes little endian.
void writeExecutable(const char *argv0, StringRef library, StringRef output) {
  SmallString<256> launcher = runtimeDir(argv0, reinterpret_cast<void *>(&writeExecutable), "--emit=exe");
  sys::path::append(launcher, "xf-model-launcher");
  auto launcherBytes = MemoryBuffer::getFile(launcher, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!launcherBytes)
    fatal("cannot read the model launcher '" + std::string(launcher) + "': " + launcherBytes.getError().message());
  auto libraryBytes = MemoryBuffer::getFile(library, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!libraryBytes)
    fatal("cannot read '" + library.str() + "': " + libraryBytes.getError().message());
  std::error_code ec;
  raw_fd_ostream out(output, ec, sys::fs::OF_None);
  if (ec)
    fatal("cannot write '" + output.str() + "': " + ec.message());
  out << (*launcherBytes)->getBuffer() << (*libraryBytes)->getBuffer() << "XFMODEL1";
  uint64_t size = (*libraryBytes)->getBufferSize();
  for (int i = 0; i < 8; ++i)
    out << static_cast<char>((size >> (8 * i)) & 0xff);
  out.close();
  if (out.has_error())
    fatal("cannot write '" + output.str() + "'");
  sys::fs::setPermissions(output, sys::fs::all_read | sys::fs::all_exe | sys::fs::owner_write);
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::xf::registerAllPasses();
  // --help lists xfc's own options, not the hundreds LLVM registers (they still parse).
  cl::HideUnrelatedOptions(xfcOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "xf compiler: .xf specifications to ahead-of-time kernels\n\n"
                              "  MLIR's options (e.g. --mlir-print-ir-after-all) are accepted too.\n");

  if (llvmOptLevel > 3)
    fatal("--xf-llvm-opt-level must be 0 to 3");
  if (target != "cpu" && target != "vulkan" && target != "cuda")
    fatal("target '" + target + "' is not supported (supported: cpu, vulkan, cuda)");
  bool vulkan = target == "vulkan", cuda = target == "cuda";
  if ((vulkan || cuda) && emit == Emit::Exe)
    fatal("--emit=exe runs models, which run on --target=cpu only for now");
  if (emit == Emit::SPIRV && !vulkan)
    fatal("--emit=spirv needs --target=vulkan");
  if (emit == Emit::SPIRV && outputFile == "-")
    fatal("--emit=spirv needs an output folder (-o)");
  if (emit == Emit::PTX && !cuda)
    fatal("--emit=ptx needs --target=cuda");
  if (emit == Emit::PTX && outputFile == "-")
    fatal("--emit=ptx needs an output folder (-o)");
  for (const std::string &pluginPath : passPlugins) {
    Expected<mlir::PassPlugin> plugin = mlir::PassPlugin::load(pluginPath);
    if (!plugin)
      fatal("cannot load pass plugin '" + pluginPath + "': " + toString(plugin.takeError()));
    plugin->registerPassRegistryCallbacks();
  }
  if (workgroupSize < 1 || workgroupSize > 1024)
    fatal("--workgroup-size must be in [1, 1024], got " + std::to_string(workgroupSize));
  if (gpuSubgroupLanes.getNumOccurrences()) {
    int64_t lanes = gpuSubgroupLanes;
    if (target == "cuda" && lanes != 0 && lanes != 32)
      fatal("--gpu-subgroup-lanes must be 0 or 32 on CUDA (the shuffles synchronize a whole warp), got " +
            std::to_string(lanes));
    if (lanes < 0 || lanes == 1 || lanes > 64 || (lanes & (lanes - 1)))
      fatal("--gpu-subgroup-lanes must be 0 or a power of two in [2, 64], got " + std::to_string(lanes));
    if (lanes && workgroupSize % lanes)
      fatal("--workgroup-size (" + std::to_string(workgroupSize) + ") must be a multiple of --gpu-subgroup-lanes (" +
            std::to_string(lanes) + ")");
  }
  if (staticRuntime && emit != Emit::Lib)
    fatal("--static-runtime applies to --emit=lib (--emit=exe always links the runtime in)");
  if ((emit == Emit::Obj || emit == Emit::Lib || emit == Emit::Exe) && outputFile == "-")
    fatal("--emit=obj, --emit=lib and --emit=exe need an output file (-o)");
  // Before compiling: the target's runtime exists (another architecture's only where the build made one).
  if (emit == Emit::Exe || staticRuntime)
    runtimeDir(argv[0], reinterpret_cast<void *>(&writeExecutable),
               emit == Emit::Exe ? "--emit=exe" : "--static-runtime");

  mlir::DialectRegistry registry;
  mlir::xf::registerAllDialects(registry);
  mlir::MLIRContext ctx(registry);
  // Diagnostics point at the spec; dumping the IR they concern helps pass authors, not xfc's users.
  ctx.printOpOnDiagnostic(false);

  // A folder is a Hugging Face model folder: read its config.json.
  std::string path = inputFile;
  if (sys::fs::is_directory(path)) {
    SmallString<256> config(path);
    sys::path::append(config, "config.json");
    if (!sys::fs::exists(config))
      fatal("'" + inputFile + "' is a folder without a config.json");
    path = std::string(config);
  }
  auto buffer = MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = buffer.getError())
    fatal("cannot read '" + path + "': " + ec.message());
  SourceMgr sm;
  sm.AddNewSourceBuffer(std::move(*buffer), SMLoc());

  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::optional<xf::Spec> spec;
  if (StringRef(path).ends_with(".mlir")) {
    if (emit == Emit::AST || emit == Emit::Spec)
      fatal("--emit=ast and --emit=spec need a .xf or config.json input");
    mlir::SourceMgrDiagnosticHandler handler(sm, &ctx);
    module = mlir::parseSourceFile<mlir::ModuleOp>(sm, &ctx);
  } else {
    // .json is a Hugging Face config; anything else not ending in .mlir is read as a .xf specification.
    mlir::SourceMgrDiagnosticHandler handler(sm, &ctx);
    module = loadSpec(ctx, sm, StringRef(path).ends_with(".json"), spec);
  }
  if (!module)
    return 1;
  if (spec && spec->models.size() == 1 && emit != Emit::XF)
    attachModelPlan(*module, spec->models.front());

  {
    // The variants the spec declares, then those given with --variant. Variant passes anchor on functions
    // or modules; implicit nesting places each where it belongs.
    mlir::SourceMgrDiagnosticHandler handler(sm, &ctx);
    mlir::PassManager pm(&ctx, mlir::ModuleOp::getOperationName(), mlir::OpPassManager::Nesting::Implicit);
    if (failed(mlir::applyPassManagerCLOptions(pm)))
      fatal("bad pass manager options");
    pm.addPass(mlir::xf::createXFApplySpecVariants());
    for (const std::string &variant : variants) {
      // NAME or NAME{options}: added through the registry, so the pass manager nests it by its anchor.
      StringRef text = StringRef(variant).trim(), name = text.take_until([](char c) { return c == '{'; });
      StringRef options = text.drop_front(name.size());
      if (!options.empty() && (!options.consume_front("{") || !options.consume_back("}")))
        fatal("--variant='" + variant + "': expected NAME or NAME{options}");
      const mlir::PassRegistryEntry *entry = mlir::PassInfo::lookup(name.trim());
      if (!entry)
        entry = mlir::PassPipelineInfo::lookup(name.trim());
      if (!entry)
        fatal("--variant='" + variant + "': no pass named '" + name.trim() +
              "' (xf-opt --help lists the passes; plugins need --load-pass-plugin)");
      if (failed(entry->addToPipeline(pm, options, [&](const Twine &msg) {
            errs() << "xfc: error: --variant='" << variant << "': " << msg << "\n";
            return failure();
          })))
        return 1;
    }
    if (failed(pm.run(*module)))
      return 1;
  }

  std::string error;
  if (emit == Emit::XF) {
    auto out = mlir::openOutputFile(outputFile, &error);
    if (!out)
      fatal(error);
    if (spec)
      out->os() << xf::describeUnloweredParts(*spec);
    module->print(out->os());
    out->keep();
    return 0;
  }

  TargetChoice choice = chooseTarget();
  mlir::xf::GpuTargetDescription gpuTarget;
  gpuTarget.workgroupSize = workgroupSize;
  if (gpuWorkgroupMemory < 1024 || gpuWorkgroupMemory > (1 << 20))
    fatal("--gpu-workgroup-memory must be in [1024, 1048576] bytes, got " + std::to_string(gpuWorkgroupMemory));
  // A CUDA kernel's shared memory is static, at most 48 KiB; the tiles and the partial states may each take
  // the budget.
  if (cuda && gpuWorkgroupMemory > 24576)
    fatal("--gpu-workgroup-memory must be at most 24576 bytes on CUDA (staged tiles and partial states, each "
          "within it, share 48 KiB of static shared memory), got " + std::to_string(gpuWorkgroupMemory));
  gpuTarget.workgroupMemoryBytes = gpuWorkgroupMemory;
  if (subgroupGlobalSplits < 1 || subgroupGlobalSplits > 256)
    fatal("--xf-subgroup-global-splits must be in [1, 256], got " + std::to_string(subgroupGlobalSplits));
  if (subgroupGlobalSplits > 1 && !cuda)
    fatal("--xf-subgroup-global-splits needs --target=cuda (Vulkan kernels take no scratch buffer)");
  gpuTarget.subgroupGlobalSplits = subgroupGlobalSplits;
  gpuTarget.stageKeyValue = gpuStageKeyValue;
  gpuTarget.tensorCores = cudaTensorCores;
  gpuTarget.tensorCoreDirectLoads = tensorCoreDirectLoads;
  choice.description.emulateTensorCores = emulateTensorCores;
  choice.description.tensorCoreDirectLoads = tensorCoreDirectLoads;
  if (tensorCoreSplitMinKeys < 0)
    fatal("--xf-tensor-cores-split-min-keys must be 0 (no split) or positive");
  gpuTarget.tensorCoreSplitMinKeys = tensorCoreSplitMinKeys;
  choice.description.tensorCoreSplitMinKeys = tensorCoreSplitMinKeys;
  if (tensorCoreMTiles < 0 || tensorCoreMTiles > 2)
    fatal("--xf-tensor-cores-m-tiles must be 0 (by head dim), 1 or 2");
  gpuTarget.tensorCoreMTiles = tensorCoreMTiles;
  choice.description.tensorCoreMTiles = tensorCoreMTiles;
  if (cudaTensorCores && !cuda)
    fatal("--cuda-tensor-cores needs --target=cuda");
  if (cudaTensorCores && workgroupSize % 32)
    fatal("--cuda-tensor-cores needs whole warps per workgroup: --workgroup-size (" + std::to_string(workgroupSize) +
          ") must be a multiple of 32");
  gpuTarget.subgroupLanes = gpuSubgroupLanes.getNumOccurrences() ? gpuSubgroupLanes.getValue()
                            : cuda                                 ? 32
                                                                   : 8;
  // The default gives way to a workgroup too small for it (the form needs whole rows per workgroup).
  if (!gpuSubgroupLanes.getNumOccurrences() && workgroupSize % gpuTarget.subgroupLanes)
    gpuTarget.subgroupLanes = 0;
  {
    mlir::SourceMgrDiagnosticHandler handler(sm, &ctx);
    runPasses(*module, [&](mlir::OpPassManager &pm) {
      // GPU targets run a model's dense ops as kernels of the artifact too.
      if ((vulkan || cuda) && (*module)->hasAttr("xf.model_plan"))
        pm.addPass(mlir::xf::createXFAddDenseKernels({gpuTarget.subgroupLanes, /*tiles=*/true}));
      if (vulkan)
        mlir::xf::buildVulkanLoweringPipeline(pm, gpuTarget);
      else if (cuda)
        mlir::xf::buildCudaLoweringPipeline(pm, gpuTarget);
      else
        mlir::xf::buildCpuLoweringPipeline(pm, choice.description);
    });
  }
  if (emit == Emit::Lowered) {
    auto out = mlir::openOutputFile(outputFile, &error);
    if (!out)
      fatal(error);
    module->print(out->os());
    out->keep();
    return 0;
  }
  mlir::OwningOpRef<mlir::ModuleOp> lowered = module->clone();
  if (vulkan) {
    mlir::SourceMgrDiagnosticHandler handler(sm, &ctx);
    runPasses(*module, [&](mlir::OpPassManager &pm) { mlir::xf::buildVulkanToHostPipeline(pm); });
  }
  if (cuda) {
    mlir::SourceMgrDiagnosticHandler handler(sm, &ctx);
    runPasses(*module, [&](mlir::OpPassManager &pm) { mlir::xf::buildCudaToHostPipeline(pm, {cudaPath}); });
  }
  if (emit == Emit::PTX) {
    writePtxModules(*module, outputFile);
    return 0;
  }
  if (emit == Emit::SPIRV) {
    writeSpirvModules(*module, outputFile);
    return 0;
  }
  runPasses(*module, [&](mlir::OpPassManager &pm) { mlir::xf::buildCpuToLLVMPipeline(pm); });

  LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = mlir::translateModuleToLLVMIR(*module, llvmContext, inputFile);
  if (!llvmModule)
    fatal("translation to LLVM IR failed");
  llvmModule->setTargetTriple(choice.machine->getTargetTriple());
  llvmModule->setDataLayout(choice.machine->createDataLayout());
  auto optimize = mlir::makeOptimizingTransformer(llvmOptLevel, 0, choice.machine.get());
  if (Error err = optimize(llvmModule.get()))
    fatal("LLVM optimization failed: " + toString(std::move(err)));

  if (emit == Emit::LLVM) {
    auto out = mlir::openOutputFile(outputFile, &error);
    if (!out)
      fatal(error);
    llvmModule->print(out->os(), nullptr);
    out->keep();
    return 0;
  }
  if (emit == Emit::Obj) {
    emitObject(*llvmModule, *choice.machine, outputFile);
    return 0;
  }

  SmallString<128> object;
  if (std::error_code ec = sys::fs::createTemporaryFile("xfc", "o", object))
    fatal("cannot create a temporary file: " + ec.message());
  FileRemover removeObject(object);
  emitObject(*llvmModule, *choice.machine, object);
  if (emit == Emit::Exe) {
    if (!(*module)->hasAttr("xf.model_plan"))
      fatal("--emit=exe needs a model spec the runtime can run (see the warning above, or use --emit=lib)");
    SmallString<128> library;
    if (std::error_code ec = sys::fs::createTemporaryFile("xfc", "so", library))
      fatal("cannot create a temporary file: " + ec.message());
    FileRemover removeLibrary(library);
    linkSharedLibrary(object, library);
    writeExecutable(argv[0], library, outputFile);
    return 0;
  }
  if (staticRuntime) {
    SmallString<128> versionScript;
    if (std::error_code ec = sys::fs::createTemporaryFile("xfc", "map", versionScript))
      fatal("cannot create a temporary file: " + ec.message());
    FileRemover removeScript(versionScript);
    linkSharedLibrary(object, outputFile, staticRuntimeArguments(argv[0], versionScript));
  } else {
    linkSharedLibrary(object, outputFile);
  }
  std::string header = headerFile;
  if (header.empty()) {
    SmallString<128> h(outputFile);
    sys::path::replace_extension(h, "h");
    header = std::string(h);
  }
  writeHeader(*lowered, header, sys::path::filename(outputFile), target == "cpu" ? StringRef() : StringRef(target));
  return 0;
}
