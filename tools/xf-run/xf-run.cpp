//===- xf-run.cpp - run the kernels of an xf module -------------------------===//
//
// `xf-run kernel` feeds a compiled kernel from .npy files and reports its speed; `xf-run list` shows what a
// module contains. Everything goes through the public runtime API (xfrt.h), so this tool is also its first
// user. Arguments are parsed by hand: the runtime keeps LLVM private, and llvm::cl's multi-line diagnostics
// would not give the one-line `xf-run: error: ...` that scripts match on.
//
//===----------------------------------------------------------------------===//

#include "Sampling.h"
#include "runtime/src/Npy.h"
#include "xfrt.hpp"

#include <algorithm>
#include <cstring>
#ifdef XF_RUN_EMBEDDED
#include <sys/mman.h>
#include <unistd.h>
#endif
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const char *const kHelp = R"(OVERVIEW: xf-run - run the kernels of an xf module (a library built by `xfc --emit=lib`)

USAGE:
  xf-run <model.so> --weights <path> --prompt-ids 1,2,3 [--max-new N] [--logits out.npy] [--threads N]
         [--max-tokens N] [--prefill-chunk N] [--prefill-runs N] [--weight-type T] [--dot D] [--quiet]
         [--stop-ids LIST] [--temperature T] [--top-k K] [--top-p P] [--seed S]
  xf-run kernel <module.so> [inputs] -o <out.npy> [--kernel NAME] [--device D] [--threads N] [--repeat N]
         [--resident]
  xf-run list <module.so>
  xf-run devices
  xf-run calibrate --q q.npy --k k.npy [--tau 0.1] [--scale S]
  xf-run --help

MODEL RUNS (a module compiled from a model spec or config.json):
  Loads the weights (a .safetensors file, a model.safetensors.index.json, or a folder with either),
  runs the prompt as one prefill, then decodes --max-new tokens (default 32), each fed back: greedily,
  or sampled with --temperature.
  Prints the generated ids on one line (`tokens: ...`), then prefill and decode tokens/s. Progress
  lines on stderr show a long weight load, prefill and decoding as they go (not with --quiet).
  --weights PATH     The model's weights (Hugging Face tensor names).
  --prompt-ids LIST  Comma-separated token ids of the prompt.
  --max-new N        Tokens to generate (default 32; 0 runs only the prefill). The prompt and all but
                     the last new token must fit the session's limit (--max-tokens): a run that would
                     pass it is refused before it starts.
  --stop-ids LIST    Stop after generating any of these token ids (say, the model's eos_token_id); the
                     stop token is the last one printed.
  --temperature T    0 (default): greedy, the first largest logit. T > 0: sample from softmax(logits /
                     T), as Hugging Face's generate does, after --top-k and --top-p.
  --top-k K          Sample among the K most probable tokens (default 0: all).
  --top-p P          Sample among the fewest most probable tokens whose probability reaches P, after
                     --top-k (default 1: all).
  --seed S           The sampler's seed (default 0): a seed gives the same tokens on every machine.
  --logits FILE      Write the logits used for each generated token, float32 [generated, vocab] (row 0:
                     the prefill's last position), or [1, vocab] with --max-new 0.
  --max-tokens N     Sequence limit for the KV cache (default: the model's context length).
  --prefill-chunk N  The most prompt tokens one forward takes (default 1024; 0: the whole prompt at once).
                     A long prompt's activations stay bounded, and its prefill shows a progress line;
                     results match an unchunked prefill up to float rounding.
  --prefill-runs N   Run the prompt's prefill N times (default 1), resetting the session in between:
                     `prefill:` is then the best of runs 2..N (warm) and `prefill_first:` the first,
                     cold one. Every run must give the first run's logits bit for bit (an error if not).
  --weight-type T    How projection weights are kept: auto (default: as the checkpoint stores them;
                     bf16/f16 checkpoints stay 16-bit, exactly; gpt-oss's MXFP4 experts stay packed on
                     the CPU, bf16 on GPUs), f32, bf16 or f16 (rounded). The
                     arithmetic is float32 either way; 16-bit weights halve what a decode step reads.
                     GPU models keep f32 or bf16 (Vulkan: a bf16 checkpoint stays bf16; CUDA: auto is
                     f32, for cuBLAS).
  --dot D            How the products multiply: f32 (default: float32 arithmetic), bf16 or int8.
                     bf16 (opt-in: projections kept as bf16, activations rounded to bf16 once per GEMM,
                     bf16 products summed in float32; not the MoE routers). On the CPU vdpbf16ps
                     (AVX512-BF16 CPUs), on CUDA cuBLAS's tensor-core GEMM (cublasGemmEx). Faster
                     prefill, slightly different logits; decode steps stay float32. An error on a
                     CPU without AVX512-BF16, on CUDA without cuBLAS, on Vulkan models, or with
                     --weight-type f32/f16.
                     int8 (opt-in, CPU): projections quantized at load per output row to int8 (scale
                     max|w|/127), each product's activations per row likewise, code products summed
                     exactly in int32 (vpdpbusd, AVX512-VNNI CPUs); prefill and decode, a quarter of
                     f32's bytes per decode step; not the MoE routers nor MXFP4 experts. Logits move
                     more than with bf16.
  --threads N        Threads, the calling one included; 0 (default) = all cores.
  --device D         cpu, vulkan, vulkan:N, cuda or cuda:N; default: the module's target (a model runs
                     where xfc compiled it for: --target=cpu, vulkan or cuda).

COMMANDS:
  calibrate Find ACT sink columns from the queries [B, H, N, D] and keys [B, Hkv, N, D] of a causal
            prefill: per head, the column scores c_j = (sum_i P[i,j]) / (N - j) of the softmax (averaged
            over the batch); columns j >= 1 with c_j > tau are sink columns. Prints them per head and the
            `variant sinks { mode = calibrated; ... }` line for the spec.
  kernel    Read the kernel's inputs from .npy files, run it, write its output to a .npy file and print
            one line with the best time and the throughput (on a GPU also the kernel's own time on the
            device, without the copies).
  list      Print every kernel of the module: kind, operands with their compiled shapes (? = dynamic,
            chosen per call) and attributes.
  devices   Print the devices kernels can run on: the CPU, every Vulkan device (vulkan:N, with its subgroup
            size and the subgroup operations compute shaders may use) and every CUDA device (cuda:N); a kind
            with none says why.

OPTIONS (kernel):
  --in NAME=FILE     Input operand NAME (as `xf-run list` names it) from FILE. Repeat for every input:
                     each operand except the output (the last one) must be given. An
                     accumulating product (kind ..._acc, output += product) may also take
                     its output's initial values (default zeros).
  --q FILE           Shorthand for --in query=FILE.
  --k FILE           Shorthand for --in key=FILE.
  --v FILE           Shorthand for --in value=FILE.
  -o, --output FILE  Where to write the output operand.
  --kernel NAME      The kernel to run; needed only when the module has more than one.
  --device D         Where to run: cpu, vulkan (the best Vulkan device), vulkan:N, cuda (CUDA device 0) or
                     cuda:N (see xf-run devices).
                     Default: the module's target (xfc --target). A module runs only on its target's
                     kind of device. XF_VULKAN_VALIDATION=1 enables the Vulkan validation layer.
  --threads N        Threads running the kernel, the calling one included; 0 (default) = all cores.
  --repeat N         Run N times (default 1) and report the fastest run; the output of the last run is
                     written.
  --resident         On a GPU, copy the inputs to the device once, before the runs, so that the times
                     leave their copies out (each run still copies the output back).
  -h, --help         Show this help.
  Options take their value as the next argument or after '=' (--threads=2).

FILES:
  Inputs and outputs are float32 .npy files in C order ('<f4', fortran_order False, rank <= 8), as
  numpy.save writes them. An operand compiled for bf16 or f16 (an attention spec's dtype / kv_dtype)
  takes its file's values rounded to nearest even; such an output is written widened to float32.

OUTPUT SHAPE:
  Attention kernels: [B, num_heads, S, head_dim_v], B and S taken from the query ([B, H, S, D]).
  Mixture-of-heads routers: [B, num_heads, S], B and S taken from the input ([B, S, C]).
  Other kinds: the output's compiled shape, which must then be fully static.

THROUGHPUT:
  Attention FLOPs follow the FlashAttention convention, counting the two matmuls QK^T and PV:
  2*B*H*S*T*(D + Dv), i.e. 4*B*H*S*T*D when D = Dv, with S the query and T the key length. Causal
  kernels count exactly half of that (the diagonal's extra terms are ignored); a sliding window is not
  discounted. Other kinds report only the time.

Errors are reported on one line, `xf-run: error: ...`, with exit code 1.
)";

/// A user-facing failure; main prints it as `xf-run: error: <message>` and exits with 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &message) { throw UsageError(message); }

struct StatusDeleter {
  void operator()(xfrt_status_s *status) const { xfrt_status_free(status); }
};
using ModuleHandle = xfrt::ModulePtr;
using ContextHandle = xfrt::ContextPtr;

void check(xfrt_status status) {
  std::unique_ptr<xfrt_status_s, StatusDeleter> owned(status);
  if (owned)
    fail(xfrt_status_message(owned.get()));
}

ModuleHandle openModule(const std::string &path) {
  xfrt_module *module = nullptr;
  check(xfrt_module_open(path.c_str(), &module));
  return ModuleHandle(module);
}

int64_t parseInteger(const std::string &option, const std::string &text) {
  errno = 0;
  char *end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    fail("option '" + option + "' expects an integer, got '" + text + "'");
  return value;
}

double parseNumber(const std::string &option, const std::string &text) {
  errno = 0;
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(value))
    fail("option '" + option + "' expects a number, got '" + text + "'");
  return value;
}

/// A cpu module runs on the threads of any context, so a GPU --device for it would silently run on the
/// CPU: refused, once the context exists (opening the device reports a missing driver first).
void refuseGpuDeviceForCpuModule(const xfrt_module *module, const std::string &device) {
  std::string kind = device.substr(0, device.find(':'));
  if (std::string(xfrt_module_target(module)) == "cpu" && kind != "cpu")
    fail("the module is compiled for cpu, so it runs on the CPU; --device " + device +
         " needs one compiled with xfc --target=" + kind);
}

std::string joinNames(const std::vector<std::string> &names) {
  std::string joined;
  for (const std::string &name : names)
    joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

std::string shapeString(const int64_t *shape, int64_t rank) {
  std::string text = "[";
  for (int64_t i = 0; i < rank; ++i)
    text += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return text + "]";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  return shapeString(shape.data(), static_cast<int64_t>(shape.size()));
}

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

struct KernelCommand {
  std::string modulePath;
  std::map<std::string, std::string> inputFiles; // operand name -> .npy path
  std::string outputPath;
  std::optional<std::string> kernelName;
  int32_t numThreads = 0;
  int64_t repeat = 1;
  bool resident = false;
  std::optional<std::string> device;
};

/// Walks argv, splitting `--flag=value` and taking `--flag value`.
class ArgumentReader {
public:
  ArgumentReader(int argc, char **argv) : args(argv + 1, argv + argc) {}

  bool done() const { return next >= args.size(); }
  const std::string &peek() const { return args[next]; }

  /// If the next argument is one of `spellings` (alone or with `=value`), consumes it and its value.
  std::optional<std::string> optionValue(std::initializer_list<const char *> spellings) {
    const std::string &arg = args[next];
    for (const char *spelling : spellings) {
      std::string flag = spelling;
      if (arg == flag) {
        if (next + 1 >= args.size())
          fail("option '" + flag + "' needs a value");
        next += 2;
        return args[next - 1];
      }
      if (arg.compare(0, flag.size() + 1, flag + "=") == 0) {
        ++next;
        return arg.substr(flag.size() + 1);
      }
    }
    return std::nullopt;
  }

  std::string take() { return args[next++]; }

private:
  std::vector<std::string> args;
  size_t next = 0;
};

bool isOption(const std::string &arg) { return arg.size() > 1 && arg[0] == '-'; }

[[noreturn]] void unknownOption(const std::string &arg) {
  fail("unknown option '" + arg + "' (see xf-run --help)");
}

void addInput(KernelCommand &command, const std::string &operand, const std::string &file) {
  if (operand.empty() || file.empty())
    fail("--in expects NAME=FILE, got '" + operand + "=" + file + "'");
  if (!command.inputFiles.emplace(operand, file).second)
    fail("operand '" + operand + "' is given twice");
}

KernelCommand parseKernelCommand(ArgumentReader &reader) {
  KernelCommand command;
  std::vector<std::string> positional;
  while (!reader.done()) {
    if (!isOption(reader.peek())) {
      positional.push_back(reader.take());
    } else if (auto file = reader.optionValue({"--q"})) {
      addInput(command, "query", *file);
    } else if (auto file = reader.optionValue({"--k"})) {
      addInput(command, "key", *file);
    } else if (auto file = reader.optionValue({"--v"})) {
      addInput(command, "value", *file);
    } else if (auto binding = reader.optionValue({"--in"})) {
      size_t equals = binding->find('=');
      if (equals == std::string::npos)
        fail("--in expects NAME=FILE, got '" + *binding + "'");
      addInput(command, binding->substr(0, equals), binding->substr(equals + 1));
    } else if (auto path = reader.optionValue({"-o", "--output"})) {
      command.outputPath = *path;
    } else if (auto name = reader.optionValue({"--kernel"})) {
      command.kernelName = *name;
    } else if (auto threads = reader.optionValue({"--threads"})) {
      int64_t value = parseInteger("--threads", *threads);
      if (value < 0 || value > INT32_MAX)
        fail("--threads must be >= 0, got " + *threads);
      command.numThreads = static_cast<int32_t>(value);
    } else if (auto device = reader.optionValue({"--device"})) {
      command.device = *device;
    } else if (auto repeat = reader.optionValue({"--repeat"})) {
      command.repeat = parseInteger("--repeat", *repeat);
      if (command.repeat < 1)
        fail("--repeat must be >= 1, got " + *repeat);
    } else if (reader.peek() == "--resident") {
      reader.take();
      command.resident = true;
    } else {
      unknownOption(reader.peek());
    }
  }
  if (positional.size() != 1)
    fail(positional.empty() ? "missing <module.so> (see xf-run --help)"
                            : "unexpected argument '" + positional[1] + "'");
  command.modulePath = positional[0];
  if (command.outputPath.empty())
    fail("missing -o <out.npy>");
  return command;
}

std::string parseListCommand(ArgumentReader &reader) {
  std::vector<std::string> positional;
  while (!reader.done()) {
    if (isOption(reader.peek()))
      unknownOption(reader.peek());
    positional.push_back(reader.take());
  }
  if (positional.size() != 1)
    fail(positional.empty() ? "missing <module.so> (see xf-run --help)"
                            : "unexpected argument '" + positional[1] + "'");
  return positional[0];
}

//===----------------------------------------------------------------------===//
// Commands
//===----------------------------------------------------------------------===//

std::vector<std::string> kernelNames(const xfrt_module *module) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < xfrt_module_num_kernels(module); ++i)
    names.push_back(xfrt_module_kernel_name(module, i));
  return names;
}

/// The kernel's name as the runtime knows it: --kernel if given, else the module's only kernel.
std::string selectKernel(const xfrt_module *module, const KernelCommand &command) {
  std::vector<std::string> names = kernelNames(module);
  if (command.kernelName) {
    if (std::find(names.begin(), names.end(), *command.kernelName) == names.end())
      fail(command.modulePath + ": no kernel '" + *command.kernelName + "' (kernels: " + joinNames(names) + ")");
    return *command.kernelName;
  }
  if (names.size() != 1)
    fail(command.modulePath + " has " + std::to_string(names.size()) + " kernels" +
         (names.empty() ? "" : " (" + joinNames(names) + "); pick one with --kernel"));
  return names[0];
}

std::optional<int64_t> integerAttribute(const xfrt_module *module, const std::string &kernel, const char *name) {
  const char *json = xfrt_kernel_attribute(module, kernel.c_str(), name);
  if (!json)
    return std::nullopt;
  char *end = nullptr;
  long long value = std::strtoll(json, &end, 10);
  return *end == '\0' ? std::optional<int64_t>(value) : std::nullopt;
}

bool boolAttribute(const xfrt_module *module, const std::string &kernel, const char *name) {
  const char *json = xfrt_kernel_attribute(module, kernel.c_str(), name);
  return json && std::string(json) == "true";
}

std::string inputHint(const std::string &operand) {
  static const std::map<std::string, std::string> shorthands = {{"query", "--q"}, {"key", "--k"}, {"value", "--v"}};
  auto shorthand = shorthands.find(operand);
  return shorthand == shorthands.end() ? "--in " + operand + "=FILE"
                                       : shorthand->second + " FILE or --in " + operand + "=FILE";
}

/// The output's shape: attention derives it from the query and the attributes, other kinds need it static.
std::vector<int64_t> outputShape(const xfrt_module *module, const std::string &kernel,
                                 const std::map<std::string, xf::npy::Array> &inputs, int64_t outputIndex,
                                 const std::string &outputName) {
  if (std::string(xfrt_kernel_kind(module, kernel.c_str())) == "attention") {
    const std::vector<int64_t> &query = inputs.at("query").shape;
    if (query.size() != 4)
      fail("kernel '" + kernel + "': operand 'query' has rank " + std::to_string(query.size()) +
           ", expected 4 ([B, H, S, D])");
    return {query[0], *integerAttribute(module, kernel, "num_heads"), query[2],
            *integerAttribute(module, kernel, "head_dim_v")};
  }
  if (std::string(xfrt_kernel_kind(module, kernel.c_str())) == "moh_router") {
    const std::vector<int64_t> &input = inputs.at("input").shape;
    if (input.size() != 3)
      fail("kernel '" + kernel + "': operand 'input' has rank " + std::to_string(input.size()) +
           ", expected 3 ([B, S, C])");
    return {input[0], *integerAttribute(module, kernel, "num_heads"), input[1]};
  }
  // The dense kernels of GPU model modules: the product's [input rows, weight rows], the bf16 rounding's
  // [rows, ceil(K/2)] pairs, the embedding's [ids, table width]; the rest are elementwise over their first
  // operand.
  const std::string kind = xfrt_kernel_kind(module, kernel.c_str());
  // An input's size d, after checking its rank against the compiled one (the run checks the rest).
  auto size = [&](const std::string &operand, size_t d) {
    const std::vector<int64_t> &shape = inputs.at(operand).shape;
    int64_t compiled[XFRT_MAX_RANK];
    for (int64_t i = 0; i < xfrt_kernel_num_operands(module, kernel.c_str()); ++i)
      if (operand == xfrt_kernel_operand_name(module, kernel.c_str(), i)) {
        int32_t rank = xfrt_kernel_operand_shape(module, kernel.c_str(), i, compiled);
        if (static_cast<int32_t>(shape.size()) != rank)
          fail("kernel '" + kernel + "': operand '" + operand + "' has rank " + std::to_string(shape.size()) +
               ", expected " + std::to_string(rank));
      }
    return shape.at(d);
  };
  // (The `_acc` products add to an output that starts at zero here.)
  if (kind == "dense_matmul" || kind == "dense_matmul_bf16" || kind == "dense_dot_bf16" || kind == "dense_matmul_acc" ||
      kind == "dense_matmul_bf16_acc" || kind == "dense_dot_bf16_acc" || kind == "dense_matmul_norm" ||
      kind == "dense_matmul_bf16_norm")
    return {size("input", 0), size("weight", 0)};
  if (kind == "dense_round_bf16")
    return {size("input", 0), (size("input", 1) + 1) / 2};
  if (kind.size() > 8 && kind.compare(kind.size() - 8, 8, "_stacked") == 0)
    return {size("input", 0), size("input", 1) / 2};
  if (kind == "dense_embed")
    return {size("ids", 0), size("table", 1)};
  for (auto [denseKind, operand] : {std::pair{"dense_rms_norm", "input"}, {"dense_rope", "input"},
                                    {"dense_bias_add", "input"}, {"dense_scale", "input"}, {"dense_add", "lhs"},
                                    {"dense_silu_gate", "gate"}, {"dense_gelu_tanh_gate", "gate"},
                                    {"dense_clamped_swiglu", "gate"}})
    if (kind == denseKind) {
      size(operand, 0);
      return inputs.at(operand).shape;
    }
  int64_t compiled[XFRT_MAX_RANK];
  int32_t rank = xfrt_kernel_operand_shape(module, kernel.c_str(), outputIndex, compiled);
  std::vector<int64_t> shape(compiled, compiled + rank);
  if (std::any_of(shape.begin(), shape.end(), [](int64_t size) { return size < 0; }))
    fail("kernel '" + kernel + "': cannot size output '" + outputName + "' of kind '" +
         xfrt_kernel_kind(module, kernel.c_str()) + "': its compiled shape " + shapeString(shape) +
         " is dynamic");
  return shape;
}

int runKernelCommand(const KernelCommand &command) {
  ModuleHandle module = openModule(command.modulePath);
  std::string kernel = selectKernel(module.get(), command);
  int64_t numOperands = xfrt_kernel_num_operands(module.get(), kernel.c_str());
  std::vector<std::string> operandNames;
  for (int64_t i = 0; i < numOperands; ++i)
    operandNames.push_back(xfrt_kernel_operand_name(module.get(), kernel.c_str(), i));
  std::string outputName = operandNames.back();
  std::vector<std::string> inputNames(operandNames.begin(), operandNames.end() - 1);

  // An accumulating product (kind `..._acc`: output += product) may take its output's initial values.
  const std::string kind = xfrt_kernel_kind(module.get(), kernel.c_str());
  const bool accumulates = kind.size() > 4 && kind.compare(kind.size() - 4, 4, "_acc") == 0;
  for (const auto &[operand, file] : command.inputFiles)
    if (std::find(inputNames.begin(), inputNames.end(), operand) == inputNames.end() &&
        !(accumulates && operand == outputName))
      fail("kernel '" + kernel + "' has no input operand '" + operand + "' (inputs: " + joinNames(inputNames) +
           (operand == outputName ? "; '" + outputName + "' is the output, written with -o)" : ")"));
  std::map<std::string, xf::npy::Array> inputs;
  for (const std::string &operand : inputNames) {
    auto file = command.inputFiles.find(operand);
    if (file == command.inputFiles.end())
      fail("kernel '" + kernel + "': missing input '" + operand + "' (give " + inputHint(operand) + ")");
    xf::npy::ReadResult read = xf::npy::read(file->second);
    if (!read)
      fail(read.error);
    inputs[operand] = std::move(read.array);
  }

  xf::npy::Array output;
  output.shape = outputShape(module.get(), kernel, inputs, numOperands - 1, outputName);
  output.data.resize(output.numElements());
  if (auto initial = command.inputFiles.find(outputName); accumulates && initial != command.inputFiles.end()) {
    xf::npy::ReadResult read = xf::npy::read(initial->second);
    if (!read)
      fail(read.error);
    if (read.array.shape != output.shape)
      fail("kernel '" + kernel + "': the initial '" + outputName + "' (" + initial->second + ") has shape " +
           shapeString(read.array.shape) + ", expected " + shapeString(output.shape));
    output = std::move(read.array);
  }

  // Operands compiled for bf16 or f16 take the float32 .npy data rounded to nearest even; such an output is
  // widened back to float32 for the .npy file.
  auto dtypeOf = [&](int64_t index) {
    return static_cast<xfrt_dtype>(xfrt_kernel_operand_dtype(module.get(), kernel.c_str(), index));
  };
  auto narrow = [](const std::vector<float> &data, xfrt_dtype dtype) {
    std::vector<uint16_t> words(data.size());
    for (size_t i = 0; i < data.size(); ++i)
      words[i] = xfrt::toHalf(data[i], dtype);
    return words;
  };
  std::vector<std::vector<uint16_t>> narrowed(numOperands);
  std::vector<xfrt_tensor> operands;
  for (int64_t i = 0; i < numOperands; ++i) {
    xf::npy::Array &array = i + 1 < numOperands ? inputs[inputNames[i]] : output;
    xfrt_dtype dtype = dtypeOf(i);
    if (dtype == XFRT_F32) {
      operands.push_back(xfrt::tensorOf(array.data.data(), array.shape));
      continue;
    }
    narrowed[i] = narrow(array.data, dtype);
    operands.push_back(xfrt::tensorOf(narrowed[i].data(), array.shape, dtype));
  }

  // A module runs where it was compiled for unless --device says which device of that kind.
  std::string device = command.device.value_or(xfrt_module_target(module.get()));
  xfrt_context *rawContext = nullptr;
  check(xfrt_context_create_on(device.c_str(), command.numThreads, &rawContext));
  ContextHandle context(rawContext);
  refuseGpuDeviceForCpuModule(module.get(), device);

  // --resident: the inputs go to the GPU once, before the timed runs (each run still copies the output back).
  std::vector<const void *> pinned;
  if (command.resident)
    for (int64_t i = 0; i + 1 < numOperands; ++i) {
      const xf::npy::Array &input = inputs[inputNames[i]];
      check(xfrt_context_pin(context.get(), operands[i].data, input.data.size() * xfrt_dtype_size(dtypeOf(i))));
      pinned.push_back(operands[i].data);
    }
  double bestSeconds = 0, bestDeviceSeconds = -1;
  for (int64_t run = 0; run < command.repeat; ++run) {
    auto start = std::chrono::steady_clock::now();
    check(xfrt_kernel_run(context.get(), module.get(), kernel.c_str(), operands.data(), numOperands));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bestSeconds = run == 0 ? seconds : std::min(bestSeconds, seconds);
    double deviceSeconds = xfrt_context_last_kernel_seconds(context.get());
    if (deviceSeconds >= 0)
      bestDeviceSeconds = bestDeviceSeconds < 0 ? deviceSeconds : std::min(bestDeviceSeconds, deviceSeconds);
  }
  for (const void *data : pinned)
    xfrt_context_unpin(context.get(), data);
  if (xfrt_dtype dtype = dtypeOf(numOperands - 1); dtype != XFRT_F32)
    for (size_t i = 0; i < output.data.size(); ++i)
      output.data[i] = xfrt::fromHalf(narrowed.back()[i], dtype);
  std::string writeError = xf::npy::write(command.outputPath, output);
  if (!writeError.empty())
    fail(writeError);

  std::string throughput, problem;
  if (std::string(xfrt_kernel_kind(module.get(), kernel.c_str())) == "attention") {
    const std::vector<int64_t> &query = inputs["query"].shape, &key = inputs["key"].shape;
    double batch = query[0], heads = query[1], queryLength = query[2], keyLength = key[2];
    double headDim = query[3], headDimV = output.shape[3];
    bool causal = boolAttribute(module.get(), kernel, "causal");
    // The (query, key) pairs computed: queries sit at positions T - S .. T - 1, so with causal masking row s
    // sees T - S + s + 1 keys (none when that is not positive): S T - S (S - 1) / 2 for S <= T (T = S: about
    // half; decode, S = 1: all T), T (T + 1) / 2 for S > T.
    double pairs = queryLength * keyLength;
    if (causal)
      pairs = queryLength <= keyLength ? queryLength * keyLength - queryLength * (queryLength - 1) / 2
                                       : keyLength * (keyLength + 1) / 2;
    double flops = 2 * batch * heads * pairs * (headDim + headDimV);
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), ", %.2f GFLOP/s", bestSeconds > 0 ? flops / bestSeconds / 1e9 : 0.0);
    throughput = buffer;
    problem = " [B=" + std::to_string(query[0]) + " H=" + std::to_string(query[1]) + " S=" +
              std::to_string(query[2]) + " T=" + std::to_string(key[2]) + " D=" + std::to_string(query[3]) +
              (causal ? " causal]" : "]");
  }
  int32_t numThreads = xfrt_context_num_threads(context.get());
  std::string where = device == "cpu" ? std::to_string(numThreads) + (numThreads == 1 ? " thread" : " threads")
                                      : std::string(xfrt_context_device(context.get()));
  // On a GPU the device's own time of the kernel (no copies) follows the call's.
  std::string deviceTime;
  if (bestDeviceSeconds >= 0) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "; kernel %.3f ms on the device", bestDeviceSeconds * 1e3);
    deviceTime = buffer;
  }
  std::printf("%s%s: best of %lld %s %.3f ms%s%s (%s) -> %s\n", kernel.c_str(), problem.c_str(),
              static_cast<long long>(command.repeat), command.repeat == 1 ? "run" : "runs", bestSeconds * 1e3,
              throughput.c_str(), deviceTime.c_str(), where.c_str(), command.outputPath.c_str());
  return 0;
}

int runListCommand(const std::string &modulePath) {
  ModuleHandle module = openModule(modulePath);
  std::vector<std::string> names = kernelNames(module.get());
  std::printf("%s: %zu kernel%s for %s\n", modulePath.c_str(), names.size(), names.size() == 1 ? "" : "s",
              xfrt_module_target(module.get()));
  for (const std::string &kernel : names) {
    const char *name = kernel.c_str();
    std::printf("%s (%s)\n  operands:\n", name, xfrt_kernel_kind(module.get(), name));
    int64_t numOperands = xfrt_kernel_num_operands(module.get(), name);
    for (int64_t i = 0; i < numOperands; ++i) {
      int64_t shape[XFRT_MAX_RANK];
      int32_t rank = xfrt_kernel_operand_shape(module.get(), name, i, shape);
      auto dtype = static_cast<xfrt_dtype>(xfrt_kernel_operand_dtype(module.get(), name, i));
      std::string type = dtype == XFRT_F32 ? "" : std::string(" ") + xfrt_dtype_name(dtype); // f32 goes unsaid
      std::printf("    %-10s %s%s%s\n", xfrt_kernel_operand_name(module.get(), name, i),
                  shapeString(shape, rank).c_str(), type.c_str(), i + 1 == numOperands ? "  (output)" : "");
    }
    int64_t numAttributes = xfrt_kernel_num_attributes(module.get(), name);
    if (numAttributes > 0)
      std::printf("  attributes:\n");
    for (int64_t i = 0; i < numAttributes; ++i) {
      const char *attribute = xfrt_kernel_attribute_name(module.get(), name, i);
      std::printf("    %s = %s\n", attribute, xfrt_kernel_attribute(module.get(), name, attribute));
    }
  }
  return 0;
}

/// ACT's sink detection (VARIANTS.md §1c) over a causal prefill: for every head, the column scores
/// c_j = (sum_i P[i,j]) / (N - j) of the softmax P, averaged over the batch; columns j >= 1 with c_j > tau
/// are sink columns. Plain double-precision loops: this runs once, offline, to write the spec.
int runCalibrateCommand(ArgumentReader &reader) {
  std::string queryPath, keyPath;
  double scale = 0.0, tau = 0.1;
  while (!reader.done()) {
    if (auto v = reader.optionValue({"--q"}))
      queryPath = *v;
    else if (auto v = reader.optionValue({"--k"}))
      keyPath = *v;
    else if (auto v = reader.optionValue({"--scale"}))
      scale = std::strtod(v->c_str(), nullptr);
    else if (auto v = reader.optionValue({"--tau"}))
      tau = std::strtod(v->c_str(), nullptr);
    else
      unknownOption(reader.take());
  }
  if (queryPath.empty() || keyPath.empty())
    fail("calibrate needs --q and --k (the queries and keys of a causal prefill)");
  if (!(tau > 0.0 && tau <= 1.0))
    fail("--tau must be in (0, 1]");
  auto load = [](const std::string &path) {
    xf::npy::ReadResult r = xf::npy::read(path);
    if (!r)
      fail(r.error);
    if (r.array.shape.size() != 4)
      fail(path + ": expected rank 4 [B, heads, seq, head_dim], got rank " + std::to_string(r.array.shape.size()));
    return std::move(r.array);
  };
  xf::npy::Array q = load(queryPath), k = load(keyPath);
  const int64_t B = q.shape[0], H = q.shape[1], N = q.shape[2], D = q.shape[3], Hkv = k.shape[1];
  if (k.shape[0] != B || k.shape[2] != N || k.shape[3] != D || Hkv <= 0 || H % Hkv != 0)
    fail("calibrate needs q [B, H, N, D] and k [B, Hkv, N, D] of one prefill, with Hkv dividing H");
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(static_cast<double>(D));
  std::vector<std::vector<int64_t>> columns(H);
  std::vector<double> columnSum(N), z(N);
  std::set<int64_t> allColumns;
  std::vector<int64_t> heads;
  for (int64_t h = 0; h < H; ++h) {
    std::fill(columnSum.begin(), columnSum.end(), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < N; ++i) {
        const float *qi = &q.data[((b * H + h) * N + i) * D];
        double m = -INFINITY, l = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          const float *kj = &k.data[((b * Hkv + h / (H / Hkv)) * N + j) * D];
          double dot = 0.0;
          for (int64_t d = 0; d < D; ++d)
            dot += double(qi[d]) * double(kj[d]);
          z[j] = scale * dot;
          m = std::max(m, z[j]);
        }
        for (int64_t j = 0; j <= i; ++j)
          l += std::exp(z[j] - m);
        for (int64_t j = 0; j <= i; ++j)
          columnSum[j] += std::exp(z[j] - m) / l;
      }
    std::printf("head %lld:", static_cast<long long>(h));
    for (int64_t j = 1; j < N; ++j) {
      double score = columnSum[j] / static_cast<double>(B * (N - j));
      if (score > tau) {
        columns[h].push_back(j);
        allColumns.insert(j);
        std::printf(" c[%lld]=%.3f", static_cast<long long>(j), score);
      }
    }
    std::printf("%s\n", columns[h].empty() ? " no sink column" : "");
    if (!columns[h].empty())
      heads.push_back(h);
  }
  auto list = [](auto begin, auto end) {
    std::string text;
    for (auto it = begin; it != end; ++it)
      text += (text.empty() ? "" : ", ") + std::to_string(*it);
    return "[" + text + "]";
  };
  if (heads.empty()) {
    std::printf("no head has a sink column above tau = %g: nothing to calibrate\n", tau);
    return 0;
  }
  std::printf("variant sinks { mode = calibrated; heads = %s; columns = %s }\n",
              list(heads.begin(), heads.end()).c_str(), list(allColumns.begin(), allColumns.end()).c_str());
  return 0;
}

//===----------------------------------------------------------------------===//
// Model runs
//===----------------------------------------------------------------------===//

std::vector<int32_t> parseIds(const std::string &option, const std::string &text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int64_t id = parseInteger(option, item);
    if (id < 0 || id > INT32_MAX)
      fail(option + ": token id " + item + " is out of range");
    ids.push_back(static_cast<int32_t>(id));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return ids;
}

int runModelCommand(const std::string &modulePath, ArgumentReader &reader) {
  std::string weights, logitsPath, weightType = "auto", dotType = "f32";
  std::vector<int32_t> prompt, stopIds;
  int64_t maxNew = 32, maxTokens = 0, threads = 0, prefillRuns = 1;
  xf::run::SamplingOptions sampling;
  uint64_t seed = 0;
  std::optional<int64_t> prefillChunk;
  std::optional<std::string> device;
  bool quiet = false;
  while (!reader.done()) {
    if (auto v = reader.optionValue({"--weights"}))
      weights = *v;
    else if (auto v = reader.optionValue({"--prompt-ids"}))
      prompt = parseIds("--prompt-ids", *v);
    else if (auto v = reader.optionValue({"--max-new"}))
      maxNew = parseInteger("--max-new", *v);
    else if (auto v = reader.optionValue({"--stop-ids"}))
      stopIds = parseIds("--stop-ids", *v);
    else if (auto v = reader.optionValue({"--temperature"}))
      sampling.temperature = parseNumber("--temperature", *v);
    else if (auto v = reader.optionValue({"--top-k"}))
      sampling.topK = parseInteger("--top-k", *v);
    else if (auto v = reader.optionValue({"--top-p"}))
      sampling.topP = parseNumber("--top-p", *v);
    else if (auto v = reader.optionValue({"--seed"}))
      seed = static_cast<uint64_t>(parseInteger("--seed", *v));
    else if (auto v = reader.optionValue({"--logits"}))
      logitsPath = *v;
    else if (auto v = reader.optionValue({"--max-tokens"}))
      maxTokens = parseInteger("--max-tokens", *v);
    else if (auto v = reader.optionValue({"--prefill-runs"}))
      prefillRuns = parseInteger("--prefill-runs", *v);
    else if (auto v = reader.optionValue({"--prefill-chunk"}))
      prefillChunk = parseInteger("--prefill-chunk", *v);
    else if (auto v = reader.optionValue({"--threads"}))
      threads = parseInteger("--threads", *v);
    else if (auto v = reader.optionValue({"--device"}))
      device = *v;
    else if (auto v = reader.optionValue({"--weight-type"}))
      weightType = *v;
    else if (auto v = reader.optionValue({"--dot"}))
      dotType = *v;
    else if (reader.peek() == "--quiet" && (reader.take(), true))
      quiet = true;
    else if (isOption(reader.peek()))
      unknownOption(reader.peek());
    else
      fail("unexpected argument '" + reader.peek() + "'");
  }
  if (weights.empty())
    fail("missing --weights (the model's .safetensors file or folder)");
  if (prompt.empty())
    fail("missing --prompt-ids (comma-separated token ids)");
  if (maxNew < 0)
    fail("--max-new must be >= 0");
  if (!(sampling.temperature >= 0) || !std::isfinite(sampling.temperature))
    fail("--temperature must be >= 0 (0: greedy)");
  if (sampling.topK < 0)
    fail("--top-k must be >= 0 (0: every token)");
  if (!(sampling.topP > 0 && sampling.topP <= 1))
    fail("--top-p must be in (0, 1]");
  if (sampling.temperature == 0 && (sampling.topK > 0 || sampling.topP < 1))
    fail("--top-k and --top-p shape sampling, which needs --temperature > 0 (0 decodes greedily)");
  if (prefillRuns < 1 || prefillRuns > 1000)
    fail("--prefill-runs must be in [1, 1000]");
  if (prefillChunk && *prefillChunk < 0)
    fail("--prefill-chunk must be >= 0");
  if (threads < 0 || threads > 1024)
    fail("--threads must be in [0, 1024]");

  ModuleHandle module = openModule(modulePath);
  std::string deviceName = device.value_or(xfrt_module_target(module.get()));
  xfrt_context *rawContext = nullptr;
  check(xfrt_context_create_on(deviceName.c_str(), static_cast<int32_t>(threads), &rawContext));
  ContextHandle context(rawContext);
  refuseGpuDeviceForCpuModule(module.get(), deviceName);
  xfrt_model *rawModel = nullptr;
  // A large checkpoint takes a while to read: a progress line each second once the first has passed.
  struct LoadReport {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last = start;
    bool shown = false;
  } report;
  auto onProgress = [](void *user, int64_t done, int64_t total) {
    auto &r = *static_cast<LoadReport *>(user);
    auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - r.last).count() < 1.0 && !(r.shown && done == total))
      return;
    r.last = now;
    r.shown = true;
    std::fprintf(stderr, "loading weights: %.2f/%.2f GB (%.0f%%), %.1f s\n", done / 1e9, total / 1e9,
                 total ? 100.0 * done / total : 100.0, std::chrono::duration<double>(now - r.start).count());
  };
  check(xfrt_model_load_with_progress(module.get(), weights.c_str(), weightType.c_str(), dotType.c_str(),
                                      quiet ? nullptr : +onProgress, &report, &rawModel));
  xfrt::ModelPtr model(rawModel);
  if (!quiet) {
    const std::string dot = xfrt_model_dot_type(model.get());
    std::fprintf(stderr, "weights: projections kept as %s on %s%s\n", xfrt_model_weight_type(model.get()),
                 deviceName.c_str(),
                 dot == "bf16"   ? ", prefill GEMMs multiply in bf16"
                 : dot == "int8" ? ", products multiply int8 codes"
                                 : "");
    // The cache holds what the attention kernels read (xfc --kv-dtype).
    const char *cacheType = "f32";
    for (int64_t k = 0; k < xfrt_module_num_kernels(module.get()); ++k) {
      const char *name = xfrt_module_kernel_name(module.get(), k);
      if (std::string(xfrt_kernel_kind(module.get(), name)) != "attention")
        continue;
      for (int64_t i = 0; i < xfrt_kernel_num_operands(module.get(), name); ++i)
        if (std::string(xfrt_kernel_operand_name(module.get(), name, i)) == "key")
          cacheType = xfrt_dtype_name(static_cast<xfrt_dtype>(xfrt_kernel_operand_dtype(module.get(), name, i)));
    }
    std::fprintf(stderr, "kv cache: %s\n", cacheType);
  }
  xfrt_session *rawSession = nullptr;
  check(xfrt_session_create(model.get(), context.get(), maxTokens, &rawSession));
  xfrt::SessionPtr session(rawSession);
  if (prefillChunk)
    check(xfrt_session_set_prefill_chunk(session.get(), *prefillChunk));
  const int64_t numPrompt = static_cast<int64_t>(prompt.size());
  int64_t chunk = xfrt_session_prefill_chunk(session.get());
  if (chunk <= 0)
    chunk = numPrompt;

  // A run that cannot fit is refused before it starts, not after decoding up to the limit: the prompt
  // takes numPrompt positions and each generated token but the last is fed back.
  const int64_t limit = maxTokens ? maxTokens : xfrt_model_max_positions(model.get());
  if (numPrompt > limit)
    fail("the prompt's " + std::to_string(numPrompt) + " tokens pass the session's limit of " +
         std::to_string(limit) + " tokens (--max-tokens, default the model's context length)");
  if (maxNew > 0 && maxNew - 1 > limit - numPrompt)
    fail("--max-new " + std::to_string(maxNew) + " after a " + std::to_string(numPrompt) +
         "-token prompt would pass the session's limit of " + std::to_string(limit) +
         " tokens (--max-tokens, default the model's context length): at most --max-new " +
         std::to_string(limit - numPrompt + 1));

  const int64_t vocab = xfrt_model_vocab_size(model.get());
  const int64_t rows = std::max<int64_t>(maxNew, 1);
  // Every step's logits are kept only for --logits; otherwise one row is reused.
  const bool keepAll = !logitsPath.empty();
  std::vector<float> logits(static_cast<size_t>((keepAll ? rows : 1) * vocab));
  auto logitsRow = [&](int64_t step) { return logits.data() + (keepAll ? step : 0) * vocab; };
  std::vector<int32_t> generated;
  xf::run::SampleRng rng(seed);
  using Clock = std::chrono::steady_clock;
  // The first prefill is cold (first touches of the session's buffers, threads waking); with --prefill-runs
  // the best of the others is the warm figure. Every run must reproduce the first one's logits bit for bit.
  double firstSeconds = 0, prefillSeconds = 0;
  std::vector<float> firstLogits;
  for (int64_t run = 0; run < prefillRuns; ++run) {
    if (run > 0)
      xfrt_session_reset(session.get());
    // Chunk by chunk, as the session would split the prompt anyway, so that a long prefill shows progress.
    auto start = Clock::now(), lastReport = start;
    for (int64_t done = 0; done < numPrompt;) {
      int64_t n = std::min(chunk, numPrompt - done);
      check(xfrt_session_run(session.get(), prompt.data() + done, n, done + n == numPrompt ? logits.data() : nullptr));
      done += n;
      if (!quiet && run == 0 && done < numPrompt &&
          std::chrono::duration<double>(Clock::now() - lastReport).count() > 1.0) {
        lastReport = Clock::now();
        double elapsed = std::chrono::duration<double>(lastReport - start).count();
        std::fprintf(stderr, "prefill: %lld/%lld tokens, %.1f tokens/s\n", static_cast<long long>(done),
                     static_cast<long long>(numPrompt), done / elapsed);
      }
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (run == 0) {
      firstSeconds = prefillSeconds = seconds;
      if (prefillRuns > 1)
        firstLogits.assign(logits.begin(), logits.begin() + vocab);
      continue;
    }
    prefillSeconds = run == 1 ? seconds : std::min(prefillSeconds, seconds);
    if (std::memcmp(firstLogits.data(), logits.data(), vocab * sizeof(float)))
      fail("prefill run " + std::to_string(run + 1) + " gave different logits from the first run");
  }
  auto decodeStart = Clock::now(), lastReport = decodeStart;
  for (int64_t step = 0; step < maxNew; ++step) {
    int32_t next = xf::run::chooseToken(logitsRow(step), vocab, sampling, rng);
    generated.push_back(next);
    if (step + 1 == maxNew || std::find(stopIds.begin(), stopIds.end(), next) != stopIds.end())
      break;
    check(xfrt_session_run(session.get(), &next, 1, logitsRow(step + 1)));
    if (!quiet && std::chrono::duration<double>(Clock::now() - lastReport).count() > 1.0) {
      lastReport = Clock::now();
      double elapsed = std::chrono::duration<double>(lastReport - decodeStart).count();
      std::fprintf(stderr, "decode: %lld/%lld tokens, %.1f tokens/s\n", static_cast<long long>(step + 1),
                   static_cast<long long>(maxNew), (step + 1) / elapsed);
    }
  }
  double decodeSeconds = std::chrono::duration<double>(Clock::now() - decodeStart).count();
  const int64_t produced = static_cast<int64_t>(generated.size());
  int64_t decoded = std::max<int64_t>(produced - 1, 0);

  std::string line = "tokens:";
  for (size_t i = 0; i < generated.size(); ++i)
    line += (i ? "," : " ") + std::to_string(generated[i]);
  std::printf("%s\n", line.c_str());
  std::printf("prefill: %zu tokens in %.3f ms, %.1f tokens/s\n", prompt.size(), prefillSeconds * 1e3,
              prompt.size() / prefillSeconds);
  if (prefillRuns > 1)
    std::printf("prefill_first: %zu tokens in %.3f ms, %.1f tokens/s\n", prompt.size(), firstSeconds * 1e3,
                prompt.size() / firstSeconds);
  if (decoded > 0)
    std::printf("decode: %lld tokens in %.3f ms, %.1f tokens/s\n", static_cast<long long>(decoded),
                decodeSeconds * 1e3, decoded / decodeSeconds);
  if (!logitsPath.empty())
    if (std::string error = xf::npy::write(logitsPath, logits.data(), {std::max<int64_t>(produced, 1), vocab});
        !error.empty())
      fail(error);
  return 0;
}

int runCommandLine(int argc, char **argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
  ArgumentReader reader(argc, argv);
  if (reader.done())
    fail("missing command: <model.so>, kernel, list, devices or calibrate (see xf-run --help)");
  std::string commandName = reader.take();
  if (commandName == "kernel")
    return runKernelCommand(parseKernelCommand(reader));
  if (commandName == "list")
    return runListCommand(parseListCommand(reader));
  if (commandName == "calibrate")
    return runCalibrateCommand(reader);
  if (commandName == "devices") {
    if (!reader.done())
      fail("unexpected argument '" + reader.peek() + "' (xf-run devices takes none)");
    char *list = nullptr;
    check(xfrt_list_devices(&list));
    std::fputs(list, stdout);
    xfrt_string_free(list);
    return 0;
  }
  if (isOption(commandName))
    unknownOption(commandName);
  if (commandName.find('/') != std::string::npos || commandName.find('.') != std::string::npos)
    return runModelCommand(commandName, reader);
  fail("unknown command '" + commandName + "' (expected kernel, list, devices or calibrate; see xf-run --help)");
}

} // namespace

#ifdef XF_RUN_EMBEDDED
/// An `xfc --emit=exe` artifact is this launcher followed by the compiled model (a shared library) and a
/// trailer: the 8 bytes "XFMODEL1" and the payload size (8 bytes, little endian). The payload is copied to
/// an anonymous memory file that dlopen can open by its /proc path, so nothing is written to disk.
std::string openEmbeddedModel() {
  FILE *self = std::fopen("/proc/self/exe", "rb");
  if (!self)
    fail("cannot read this executable (/proc/self/exe)");
  std::unique_ptr<FILE, int (*)(FILE *)> closer(self, std::fclose);
  unsigned char trailer[16];
  if (std::fseek(self, -16, SEEK_END) != 0 || std::fread(trailer, 1, 16, self) != 16 ||
      std::memcmp(trailer, "XFMODEL1", 8) != 0)
    fail("this executable carries no model (build it with xfc --emit=exe)");
  uint64_t size = 0;
  for (int i = 7; i >= 0; --i)
    size = size << 8 | trailer[8 + i];
  long end = std::ftell(self);
  if (size == 0 || size > static_cast<uint64_t>(end) - 16)
    fail("this executable's model payload is damaged");
  std::vector<char> payload(size);
  if (std::fseek(self, end - 16 - static_cast<long>(size), SEEK_SET) != 0 ||
      std::fread(payload.data(), 1, size, self) != size)
    fail("cannot read this executable's model payload");
  int fd = memfd_create("xf-model", MFD_CLOEXEC);
  if (fd < 0 || write(fd, payload.data(), size) != static_cast<ssize_t>(size))
    fail("cannot stage the model payload in memory");
  return "/proc/self/fd/" + std::to_string(fd);
}
#endif

int main(int argc, char **argv) {
#ifdef XF_RUN_EMBEDDED
  // Errors carry the artifact's own name (its users may never have seen xf-run).
  std::string tool = argc > 0 ? argv[0] : "model";
  tool = tool.substr(tool.find_last_of('/') + 1);
#else
  const std::string tool = "xf-run";
#endif
  try {
#ifdef XF_RUN_EMBEDDED
    // `./model --weights ... --prompt-ids ...` runs as `xf-run <embedded model> --weights ...`.
    std::string model = openEmbeddedModel();
    std::vector<char *> args(argv, argv + argc);
    args.insert(args.begin() + 1, model.data());
    bool help = false;
    for (int i = 1; i < argc; ++i)
      help |= std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h";
    if (argc == 1 || help) {
      // xf-run's model-run section: this executable is xf-run with its model built in.
      std::string text = kHelp;
      size_t begin = text.find("MODEL RUNS"), end = text.find("\nCOMMANDS:");
      std::printf("USAGE: %s --weights <path> --prompt-ids 1,2,3 [--max-new N] [--logits out.npy] [--threads N]\n"
                  "       [--max-tokens N] [--prefill-chunk N] [--prefill-runs N] [--weight-type T] [--dot D] "
                  "[--quiet]\n\n%s\n",
                  argv[0], text.substr(begin, end - begin).c_str());
      return help ? 0 : 1;
    }
    return runCommandLine(static_cast<int>(args.size()), args.data());
#else
    return runCommandLine(argc, argv);
#endif
  } catch (const UsageError &error) {
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), error.what());
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "%s: error: out of memory\n", tool.c_str());
  } catch (const std::exception &error) {
    std::fprintf(stderr, "%s: error: %s\n", tool.c_str(), error.what());
  }
  return 1;
}
