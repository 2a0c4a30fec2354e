//===- Sema.cpp - semantic checks of .xf files ----------------------------===//
#include "frontend/Sema.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace xf;
using llvm::SMLoc;
using llvm::SourceMgr;

namespace {

class Analyzer {
public:
  explicit Analyzer(SourceMgr &sm) : sm(sm) {}

  std::optional<Spec> run(const SpecFile &file) {
    Spec spec;
    llvm::StringMap<SMLoc> names;
    for (const Section &block : file.blocks) {
      if (block.kind != "attention") {
        error(block.loc, "unknown block kind '" + block.kind + "'" + suggest(block.kind, {"attention"}));
        continue;
      }
      auto [it, inserted] = names.try_emplace(block.name, block.nameLoc);
      if (!inserted) {
        error(block.nameLoc, "'" + block.name + "' is defined twice");
        note(it->second, "first definition of '" + block.name + "'");
      }
      if (auto attention = analyzeAttention(block))
        spec.attentions.push_back(std::move(*attention));
    }
    flush();
    if (failed)
      return std::nullopt;
    if (spec.attentions.empty()) {
      sm.PrintMessage(SMLoc::getFromPointer(sm.getMemoryBuffer(sm.getMainFileID())->getBufferStart()),
                      SourceMgr::DK_Error, "the specification declares no attention block");
      return std::nullopt;
    }
    return spec;
  }

private:
  // Checks run per key, not in source order; diagnostics are buffered and printed sorted by position,
  // each error followed by its notes.
  struct Diagnostic {
    SMLoc loc;
    std::string message;
    std::vector<std::pair<SMLoc, std::string>> notes;
  };
  void error(SMLoc loc, const llvm::Twine &msg) {
    diagnostics.push_back({loc, msg.str(), {}});
    failed = true;
  }
  void note(SMLoc loc, const llvm::Twine &msg) { diagnostics.back().notes.emplace_back(loc, msg.str()); }
  void flush() {
    std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic &a, const Diagnostic &b) {
      return a.loc.getPointer() < b.loc.getPointer();
    });
    for (const Diagnostic &d : diagnostics) {
      sm.PrintMessage(d.loc, SourceMgr::DK_Error, d.message);
      for (const auto &[loc, message] : d.notes)
        sm.PrintMessage(loc, SourceMgr::DK_Note, message);
    }
    diagnostics.clear();
  }

  static std::string suggest(llvm::StringRef word, llvm::ArrayRef<llvm::StringRef> known) {
    llvm::StringRef best;
    unsigned bestDistance = 3; // farther than this is not a typo
    for (llvm::StringRef k : known) {
      unsigned d = word.edit_distance(k, true, bestDistance);
      if (d < bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
    return best.empty() ? std::string() : ("; did you mean '" + best + "'?").str();
  }

  std::optional<int64_t> positiveInt(const Value &v, llvm::StringRef key) {
    if (v.kind != Value::Kind::Integer) {
      error(v.loc, "'" + key + "' must be a positive integer, got '" + v.text + "'");
      return std::nullopt;
    }
    if (v.integer <= 0) {
      error(v.loc, "'" + key + "' must be positive, got " + llvm::Twine(v.integer));
      return std::nullopt;
    }
    return v.integer;
  }

  std::optional<Extent> extent(const Value &v, llvm::StringRef key) {
    if (v.kind == Value::Kind::Word && v.text == "dynamic")
      return Extent{};
    if (v.kind != Value::Kind::Integer) {
      error(v.loc, "'" + key + "' must be 'dynamic' or a positive integer, got '" + v.text + "'");
      return std::nullopt;
    }
    if (auto n = positiveInt(v, key))
      return Extent{*n};
    return std::nullopt;
  }

  std::optional<AttentionSpec> analyzeAttention(const Section &block) {
    static const llvm::StringRef keys[] = {"heads", "kv_heads", "head_dim", "head_dim_v", "causal", "window",
                                           "scale", "batch",    "seq_q",    "seq_k"};
    AttentionSpec a;
    a.name = block.name;
    a.loc = block.loc;
    bool ok = true;
    llvm::StringMap<const Field *> seen;
    for (const Field &f : block.fields) {
      if (!llvm::is_contained(keys, f.key)) {
        error(f.keyLoc, "unknown key '" + f.key + "' in attention block" + suggest(f.key, keys));
        ok = false;
        continue;
      }
      auto [it, inserted] = seen.try_emplace(f.key, &f);
      if (!inserted) {
        error(f.keyLoc, "'" + f.key + "' is set twice");
        note(it->second->keyLoc, "first set here");
        ok = false;
      }
    }
    auto get = [&](llvm::StringRef key) -> const Field * {
      auto it = seen.find(key);
      return it == seen.end() ? nullptr : it->second;
    };
    auto requireInt = [&](llvm::StringRef key, int64_t &out) {
      const Field *f = get(key);
      if (!f) {
        error(block.nameLoc, "attention '" + block.name + "' needs '" + key + "'");
        ok = false;
        return;
      }
      if (auto n = positiveInt(f->value, key))
        out = *n;
      else
        ok = false;
    };
    requireInt("heads", a.heads);
    requireInt("head_dim", a.headDim);
    a.kvHeads = a.heads;
    if (const Field *f = get("kv_heads")) {
      if (auto n = positiveInt(f->value, "kv_heads")) {
        a.kvHeads = *n;
        if (a.heads > 0 && a.heads % a.kvHeads != 0) {
          error(f->value.loc, "kv_heads (" + llvm::Twine(a.kvHeads) + ") must divide heads (" +
                                  llvm::Twine(a.heads) + ")");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    a.headDimV = a.headDim;
    if (const Field *f = get("head_dim_v")) {
      if (auto n = positiveInt(f->value, "head_dim_v"))
        a.headDimV = *n;
      else
        ok = false;
    }
    if (const Field *f = get("causal")) {
      if (f->value.kind != Value::Kind::Bool) {
        error(f->value.loc, "'causal' must be true or false, got '" + f->value.text + "'");
        ok = false;
      } else {
        a.causal = f->value.boolean;
      }
    }
    if (const Field *f = get("window")) {
      if (f->value.kind == Value::Kind::Word && f->value.text == "none")
        a.window = 0;
      else if (f->value.kind == Value::Kind::Integer && f->value.integer > 0)
        a.window = f->value.integer;
      else {
        error(f->value.loc, "'window' must be 'none' or a positive number of keys, got '" + f->value.text + "'");
        ok = false;
      }
    }
    if (a.headDim > 0)
      a.scale = 1.0 / std::sqrt(static_cast<double>(a.headDim));
    if (const Field *f = get("scale")) {
      const Value &v = f->value;
      if (v.kind == Value::Kind::Word && v.text == "default") {
      } else if ((v.kind == Value::Kind::Float || v.kind == Value::Kind::Integer) && std::isfinite(v.number) &&
                 v.number > 0) {
        a.scale = v.number;
      } else {
        error(v.loc, "'scale' must be 'default' (1/sqrt(head_dim)) or a positive number, got '" + v.text + "'");
        ok = false;
      }
    }
    for (auto [key, out] : {std::pair<llvm::StringRef, Extent *>{"batch", &a.batch},
                            {"seq_q", &a.seqQ},
                            {"seq_k", &a.seqK}}) {
      if (const Field *f = get(key)) {
        if (auto e = extent(f->value, key))
          *out = *e;
        else
          ok = false;
      }
    }
    if (a.seqQ.value && a.seqK.value && a.causal && *a.seqQ.value > *a.seqK.value) {
      error(get("seq_q")->value.loc, "causal attention with seq_q (" + llvm::Twine(*a.seqQ.value) +
                                         ") > seq_k (" + llvm::Twine(*a.seqK.value) +
                                         ") leaves the first queries without keys");
      ok = false;
    }
    if (!ok)
      return std::nullopt;
    return a;
  }

  SourceMgr &sm;
  std::vector<Diagnostic> diagnostics;
  bool failed = false;
};

} // namespace

std::optional<Spec> xf::analyzeSpec(const SpecFile &file, SourceMgr &sourceMgr) {
  return Analyzer(sourceMgr).run(file);
}
