//===- ApplySpecVariants.cpp - the variants a spec declares ---------------===//
#include "passes/Passes.h"
#include "passes/RopeBounds.h"
#include "passes/VariantRewrites.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::xf {
#define GEN_PASS_DEF_XFAPPLYSPECVARIANTS
#include "passes/Passes.h.inc"
} // namespace mlir::xf

using namespace mlir;

namespace {

/// Reads the parameters of one recorded variant, with the frontend's defaults when absent.
struct Params {
  DictionaryAttr dict;
  StringRef str(StringRef key, StringRef fallback) const {
    auto a = dict.getAs<StringAttr>(key);
    return a ? a.getValue() : fallback;
  }
  int64_t integer(StringRef key, int64_t fallback) const {
    auto a = dict.getAs<IntegerAttr>(key);
    return a ? a.getInt() : fallback;
  }
  double number(StringRef key, double fallback) const {
    if (auto f = dict.getAs<FloatAttr>(key))
      return f.getValueAsDouble();
    if (auto i = dict.getAs<IntegerAttr>(key))
      return static_cast<double>(i.getInt());
    return fallback;
  }
  /// A list of heads, or every head for `all` (or absent).
  SmallVector<int64_t> heads(StringRef key, int64_t numHeads) const {
    if (auto list = dict.getAs<DenseI64ArrayAttr>(key))
      return SmallVector<int64_t>(list.asArrayRef());
    SmallVector<int64_t> all;
    for (int64_t h = 0; h < numHeads; ++h)
      all.push_back(h);
    return all;
  }
  SmallVector<int64_t> list(StringRef key) const {
    if (auto list = dict.getAs<DenseI64ArrayAttr>(key))
      return SmallVector<int64_t>(list.asArrayRef());
    return {};
  }
};

int64_t mantissaBits(StringRef dtype) {
  return llvm::StringSwitch<int64_t>(dtype).Case("f64", 52).Case("f16", 10).Case("bf16", 7).Default(23);
}

struct ApplySpecVariantsPass : public xf::impl::XFApplySpecVariantsBase<ApplySpecVariantsPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> kernels;
    getOperation().walk([&](func::FuncOp f) {
      if (f->hasAttr("xf.variants"))
        kernels.push_back(f);
    });
    for (func::FuncOp kernel : kernels)
      if (failed(apply(kernel)))
        return signalPassFailure();
  }

  LogicalResult apply(func::FuncOp kernel) {
    auto variants = kernel->getAttrOfType<ArrayAttr>("xf.variants");
    kernel->removeAttr("xf.variants");
    SmallVector<xf::AttentionOp> ops;
    kernel.walk([&](xf::AttentionOp op) { ops.push_back(op); });
    auto model = kernel->getAttrOfType<DictionaryAttr>("xf.model");
    for (Attribute entry : variants) {
      Params p{cast<DictionaryAttr>(entry)};
      StringRef name = p.str("name", "");
      if (name == "phase_bounded_rope") {
        if (failed(checkRope(kernel, model, p)))
          return failure();
        continue;
      }
      for (xf::AttentionOp op : ops)
        if (failed(applyOne(op, name, p, model)))
          return failure();
    }
    return success();
  }

  LogicalResult applyOne(xf::AttentionOp op, StringRef name, const Params &p, DictionaryAttr model) {
    int64_t heads = op.getNumHeads();
    if (name == "sinks") {
      StringRef mode = p.str("mode", "learned");
      if (mode == "learned")
        return xf::addLearnedSinks(op);
      if (mode == "streaming")
        return xf::makeStreaming(op, p.integer("tokens", 4), p.integer("window", 0));
      if (p.list("columns").empty())
        return op.emitOpError("sinks mode = calibrated with columns = auto: find the sink columns over a "
                              "prefill with `xf-run calibrate --q q.npy --k k.npy --tau T` and list them");
      return xf::calibrateSinks(op, p.list("columns"), p.heads("heads", heads), p.number("beta", 0.4));
    }
    if (name == "head_modulation") {
      if (failed(xf::addHeadGains(op, p.heads("heads", heads), p.number("gain", 2.0))))
        return failure();
      if (double a = p.number("emphasis", 0.0))
        xf::addKeyEmphasis(op, p.list("keys"), a, p.str("rows", "last") == "last");
      return success();
    }
    if (name == "mixture_of_heads" || name == "moh") {
      int64_t hidden = model ? Params{model}.integer("hidden", 0) : 0;
      if (!hidden)
        return op.emitOpError("mixture_of_heads needs the model's hidden size (declare it in a model block)");
      return xf::addMixtureOfHeads(op, p.integer("shared", 1), p.integer("active", 1), hidden);
    }
    if (name == "affine_scale")
      return xf::addAffineScale(op, p.str("phi", "clip") == "sigmoid" ? "sigmoid" : "linear_clip");
    return op.emitOpError() << "unknown built-in variant '" << name << "'";
  }

  /// Phase bounds on the model's RoPE (VARIANTS.md §5), via RopeBounds.
  LogicalResult checkRope(func::FuncOp kernel, DictionaryAttr model, const Params &p) {
    if (!model)
      return kernel.emitError("phase_bounded_rope needs a model (its RoPE base and depth)");
    Params m{model};
    int64_t context = p.integer("context", m.integer("max_position", 0));
    if (context <= 0)
      return kernel.emitError("phase_bounded_rope needs a context length: set context or max_position");
    xf::RopeBoundsInput input{m.integer("rotary_dim", 0), context, p.integer("depth", m.integer("layers", 1)),
                              p.number("eps", 0.1), mantissaBits(p.str("angle_dtype", "f32"))};
    if (input.rotaryDims <= 2)
      return kernel.emitError("phase_bounded_rope needs more than 2 rotary dims");
    xf::RopeBounds bounds = xf::computeRopeBounds(input);
    std::string setting = llvm::formatv("context {0}, depth {1} (eps {2}, {3}-bit angles)", context, input.depth,
                                        llvm::format("%g", input.eps), input.mantissaBits);
    double base = m.number("rope_base", 0.0);
    Builder b(kernel.getContext());
    if (base == 0.0) {
      if (!bounds.feasible())
        return kernel.emitError() << "no RoPE base satisfies " << setting << ": the bounds need base >= "
                                  << llvm::formatv("{0:F0}", bounds.lower()) << " but below "
                                  << llvm::formatv("{0:F0}", bounds.precisionMax);
      NamedAttrList facts(model);
      FloatAttr chosen = b.getF64FloatAttr(bounds.autoBase());
      facts.set("rope_base", chosen);
      kernel->setAttr("xf.model", facts.getDictionary(kernel.getContext()));
      // The model functions that call this kernel rotate with the chosen base too.
      if (auto module = kernel->getParentOfType<ModuleOp>())
        if (std::optional<SymbolTable::UseRange> uses = SymbolTable::getSymbolUses(kernel, module))
          for (const SymbolTable::SymbolUse &use : *uses)
            if (auto caller = use.getUser()->getParentOfType<func::FuncOp>())
              caller.walk([&](xf::RopeOp rope) {
                if (rope.getBase().isZero())
                  rope.setBaseAttr(chosen);
              });
      return success();
    }
    std::string violations = bounds.violations(base);
    if (violations.empty())
      return success();
    std::string interval = bounds.feasible()
                               ? std::string(llvm::formatv("[{0:F0}, {1:F0})", bounds.lower(), bounds.precisionMax))
                               : std::string("none");
    bool warn = p.str("severity", "error") == "warning";
    InFlightDiagnostic diag = warn ? kernel.emitWarning() : kernel.emitError();
    diag << "RoPE base " << llvm::formatv("{0}", llvm::format("%.6g", base)).str() << " fails for " << setting
         << ": " << violations << "; feasible bases: " << interval;
    return success(warn);
  }
};
} // namespace
