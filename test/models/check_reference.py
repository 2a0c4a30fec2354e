#!/usr/bin/python3
"""Self-check of gen_tiny_model.py and reference_forward.py.

    /usr/bin/python3 test/models/check_reference.py [--max-new 64] [--keep DIR] [--xfc build/bin/xfc]

For each architecture (llama, mistral, gptoss) it generates a tiny checkpoint and checks:
  1. reference_forward's KV-cache greedy decode against a full-sequence recompute with the same code
     (every row, to 1e-10);
  2. against an independent float64 implementation written here with torch 1.13 ops in the style of
     the transformers modeling code (its own safetensors reader via torch.frombuffer, HF-style RoPE
     tables, additive masks, sink column appended then dropped, the dense all-experts MoE path),
     decoding greedily by recomputing the whole sequence each step: same tokens, logits to 1e-9;
  3. the command line (float32 .npy [N, vocab] and the `tokens:` line);
  4. --dtype bf16 / f16: every weight read back equals torch's round-to-nearest-even conversion of
     the float32 weights of the same seed, and the decode still matches torch;
  5. --shards 2 / 3: the index and shard files are well formed and give the same weights as one file;
  6. that the windows matter (a Mistral / gpt-oss run without the window gives other logits), that
     the gpt-oss model exercises the swiglu clamp, the sinks and yarn's truncate=false and attention
     factor (each removed, the logits move), and that `xfc CONFIG --emit=spec` accepts each config (skipped if xfc is not built).
Prints PASS or FAIL per check, exits non-zero on any failure.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_tiny_model  # noqa: E402
import reference_forward  # noqa: E402

PROMPT = [1, 7, 42, 100, 3]
ARCHS = ["llama", "mistral", "gptoss"]
failures = []


def check(ok, what, detail=""):
    print("%s  %s%s" % ("PASS" if ok else "FAIL", what, ("  (" + detail + ")") if detail else ""))
    if not ok:
        failures.append(what)
    return ok


# --------------------------------------------------------------------------------------------------
# Independent torch float64 model
# --------------------------------------------------------------------------------------------------
def torch_load(model_dir):
    tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    out = {}
    for fname in files:
        blob = bytearray(open(os.path.join(model_dir, fname), "rb").read())
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(bytes(blob[8:8 + n]))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            t = torch.frombuffer(blob[8 + n + b:8 + n + e], dtype=tdt[info["dtype"]])
            out[name] = t.to(torch.float64).reshape(info["shape"])
    return out


def torch_rope(cfg):
    """inv_freq and attention scaling, following transformers' modeling_rope_utils."""
    base, dim = cfg["rope_theta"], cfg["head_dim"]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).double() / dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv_freq, 1.0
    if rs["rope_type"] == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_freq_wavelen, high_freq_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv_freq
        inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_freq_llama), 1.0
    if rs["rope_type"] == "yarn":
        factor = rs["factor"]
        omax = rs["original_max_position_embeddings"]

        def find_correction_dim(num_rotations):
            return (dim * math.log(omax / (num_rotations * 2 * math.pi))) / (2 * math.log(base))

        low, high = find_correction_dim(rs["beta_fast"]), find_correction_dim(rs["beta_slow"])
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        pos_freqs = base ** (torch.arange(0, dim, 2).double() / dim)
        extrapolation_factor = 1 - ramp
        inv = (1.0 / (factor * pos_freqs)) * (1 - extrapolation_factor) + (1.0 / pos_freqs) * extrapolation_factor
        return inv, 0.1 * math.log(factor) + 1.0
    raise NotImplementedError(rs["rope_type"])


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class TorchModel:
    def __init__(self, model_dir):
        self.cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.w = torch_load(model_dir)
        self.gptoss = self.cfg["model_type"] == "gpt_oss"
        self.inv_freq, self.att_scaling = torch_rope(self.cfg)

    def lin(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def rms(self, x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.w[name] * (x * torch.rsqrt(var + self.cfg["rms_norm_eps"]))

    def window(self, layer):
        c = self.cfg
        if c["model_type"] == "mistral":
            return c.get("sliding_window")
        if self.gptoss and c["layer_types"][layer] == "sliding_attention":
            return c["sliding_window"]
        return None

    def forward(self, ids):
        """Logits of every position of `ids` (no cache)."""
        c, w = self.cfg, self.w
        S, H, KV, D = len(ids), c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        x = F.embedding(torch.tensor(ids), w["model.embed_tokens.weight"])
        freqs = torch.outer(torch.arange(S, dtype=torch.float64), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos() * self.att_scaling, emb.sin() * self.att_scaling
        q_idx = torch.arange(S)[:, None]
        kv_idx = torch.arange(S)[None, :]
        for n in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % n
            h = self.rms(x, p + "input_layernorm.weight")
            q = self.lin(h, p + "self_attn.q_proj").view(S, H, D).transpose(0, 1)
            k = self.lin(h, p + "self_attn.k_proj").view(S, KV, D).transpose(0, 1)
            v = self.lin(h, p + "self_attn.v_proj").view(S, KV, D).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # repeat_kv: kv head j serves query heads j*n_rep .. j*n_rep + n_rep - 1.
            k = k[:, None].expand(KV, H // KV, S, D).reshape(H, S, D)
            v = v[:, None].expand(KV, H // KV, S, D).reshape(H, S, D)
            allowed = kv_idx <= q_idx
            W = self.window(n)
            if W is not None:
                allowed = allowed & (kv_idx > q_idx - W)        # transformers' sliding_window_overlay
            mask = torch.zeros(S, S, dtype=torch.float64).masked_fill(~allowed, float("-inf"))
            scores = torch.matmul(q, k.transpose(1, 2)) * D ** -0.5 + mask
            if self.gptoss:
                sinks = w[p + "self_attn.sinks"].reshape(H, 1, 1).expand(H, S, 1)
                combined = torch.cat([scores, sinks], dim=-1)
                combined = combined - combined.max(dim=-1, keepdim=True).values
                probs = F.softmax(combined, dim=-1)[..., :-1]
            else:
                probs = F.softmax(scores, dim=-1)
            attn = torch.matmul(probs, v).transpose(0, 1).reshape(S, H * D)
            x = x + self.lin(attn, p + "self_attn.o_proj")
            h = self.rms(x, p + "post_attention_layernorm.weight")
            if self.gptoss:
                x = x + self.moe(p + "mlp.", h)
            else:
                x = x + self.lin(F.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj"),
                                 p + "mlp.down_proj")
        x = self.rms(x, "model.norm.weight")
        return F.linear(x, w["lm_head.weight"])

    def moe(self, p, h):
        """GptOssTopKRouter + GptOssExperts (the dense path: every expert, weighted by the scores)."""
        c, w = self.cfg, self.w
        E, limit, alpha = c["num_local_experts"], c["swiglu_limit"], 1.702
        router_logits = F.linear(h, w[p + "router.weight"], w[p + "router.bias"])
        top_value, top_index = torch.topk(router_logits, c["num_experts_per_tok"], dim=-1)
        top_value = F.softmax(top_value, dim=1)
        scores = torch.zeros_like(router_logits).scatter_(1, top_index, top_value)     # [S, E]
        hs = h.repeat(E, 1).view(E, h.shape[0], h.shape[1])
        gate_up = torch.bmm(hs, w[p + "experts.gate_up_proj"]) + w[p + "experts.gate_up_proj_bias"][..., None, :]
        gate, up = gate_up[..., ::2], gate_up[..., 1::2]
        gate = gate.clamp(min=None, max=limit)
        up = up.clamp(min=-limit, max=limit)
        glu = gate * torch.sigmoid(gate * alpha)
        out = torch.bmm((up + 1) * glu, w[p + "experts.down_proj"]) + w[p + "experts.down_proj_bias"][..., None, :]
        return (out * scores.transpose(0, 1)[..., None]).sum(dim=0)

    def greedy(self, prompt, n):
        ids, rows = list(prompt), []
        with torch.no_grad():
            for _ in range(n):
                logits = self.forward(ids)[-1]
                rows.append(logits.numpy())
                ids.append(int(torch.argmax(logits)))
        return np.array(rows), ids[len(prompt):]


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------
def gen(root, arch, dtype="f32", shards=1, seed=0):
    out = os.path.join(root, "%s-%s-s%d-seed%d" % (arch, dtype, shards, seed))
    args = ["--arch", arch, "--out", out, "--dtype", dtype, "--shards", str(shards), "--seed", str(seed)]
    rc = subprocess.run([sys.executable, os.path.join(HERE, "gen_tiny_model.py")] + args).returncode
    if rc != 0:
        raise RuntimeError("gen_tiny_model.py %s failed" % " ".join(args))
    return out


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_decode(tag, model_dir, max_new):
    ref = reference_forward.Model(model_dir)
    logits, tokens = reference_forward.greedy(ref, PROMPT, max_new)
    # 1. Cache vs full recompute.
    full = ref.forward(PROMPT + tokens[:-1], 0, ref.new_cache())[len(PROMPT) - 1:]
    check(maxdiff(full, logits) <= 1e-10, "%s: KV-cache decode == full recompute" % tag, "max diff %.2e" % maxdiff(full, logits))
    # 2. Independent torch.
    tm = TorchModel(model_dir)
    tlogits, ttokens = tm.greedy(PROMPT, max_new)
    check(ttokens == tokens, "%s: greedy tokens == torch" % tag,
          "" if ttokens == tokens else "first mismatch at %d" % next(i for i, (a, b) in enumerate(zip(tokens, ttokens)) if a != b))
    d = maxdiff(tlogits, logits) if tlogits.shape == logits.shape else float("inf")
    check(d <= 1e-9, "%s: logits == torch float64" % tag, "max diff %.2e, |logits| max %.2f" % (d, np.abs(logits).max()))
    return logits, tokens


def check_cli(tag, model_dir, max_new, logits, tokens, tmp):
    out = os.path.join(tmp, "cli.npy")
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_forward.py"), "--model", model_dir,
                        "--prompt-ids", ",".join(map(str, PROMPT)), "--max-new", str(max_new), "--out", out],
                       capture_output=True, text=True)
    ok = r.returncode == 0 and os.path.exists(out)
    if ok:
        a = np.load(out)
        line = [l for l in r.stdout.splitlines() if l.startswith("tokens: ")]
        ok = (a.dtype == np.float32 and a.shape == (max_new, 256) and maxdiff(a, logits) <= 1e-5 * max(1, np.abs(logits).max())
              and len(line) == 1 and [int(t) for t in line[0][8:].split(",")] == tokens
              and list(np.argmax(a, axis=1)) == tokens)
    check(ok, "%s: CLI writes float32 [%d, 256] and the tokens line" % (tag, max_new), r.stderr.strip()[-300:])


def check_rounding(root, arch):
    f32 = reference_forward.load_weights(gen(root, arch, "f32"))
    for dtype, tdtype in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        low = reference_forward.load_weights(gen(root, arch, dtype))
        bad = [n for n in f32 if not np.array_equal(torch.from_numpy(f32[n]).float().to(tdtype).double().numpy(), low[n])]
        changed = sum(int(np.any(f32[n] != low[n])) for n in f32)
        check(set(low) == set(f32) and not bad and changed == len(f32),
              "%s %s: weights read back == torch RNE rounding of the f32 weights" % (arch, dtype),
              "mismatched: %s" % bad[:3] if bad else "%d tensors" % len(f32))


def check_format(model_dir):
    """Header length a multiple of 8, offsets contiguous from 0 and covering the data."""
    files = [f for f in os.listdir(model_dir) if f.endswith(".safetensors")]
    for f in files:
        blob = open(os.path.join(model_dir, f), "rb").read()
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8:8 + n])
        spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
        ok = n % 8 == 0 and "__metadata__" in header and spans[0][0] == 0 and spans[-1][1] == len(blob) - 8 - n
        ok = ok and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        if not ok:
            return False
    return True


def check_shards(root, arch):
    one = reference_forward.load_weights(gen(root, arch, "bf16", 1))
    ok_one = check_format(gen(root, arch, "bf16", 1))
    for k in (2, 3):
        d = gen(root, arch, "bf16", k)
        index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
        names = ["model-%05d-of-%05d.safetensors" % (i + 1, k) for i in range(k)]
        files_ok = sorted(set(index["weight_map"].values())) == names and all(os.path.exists(os.path.join(d, f)) for f in names)
        size_ok = index["metadata"]["total_size"] == sum(a.size * 2 for a in one.values())
        many = reference_forward.load_weights(d)
        same = set(many) == set(one) and all(np.array_equal(many[n], one[n]) for n in one)
        check(ok_one and files_ok and size_ok and same and check_format(d),
              "%s bf16 --shards %d: index, files and weights == one file" % (arch, k))


def check_window_matters(arch, model_dir, logits):
    ref = reference_forward.Model(model_dir)
    ref.windows = [None] * ref.L
    nowin, _ = reference_forward.greedy(ref, PROMPT, logits.shape[0])
    # The first rows see fewer keys than the window: identical; later rows must differ.
    W = min(w for w in reference_forward.Model(model_dir).windows if w)
    early = len(PROMPT) + np.arange(logits.shape[0]) <= W
    check(maxdiff(nowin[early], logits[early]) <= 1e-12 and maxdiff(nowin[~early], logits[~early]) > 1e-3,
          "%s: the sliding window changes exactly the rows past %d keys" % (arch, W))


def check_features_matter(model_dir, logits):
    """gpt-oss: the swiglu clamp, the sinks, yarn's truncate=false and attention factor all change the
    logits (so the test model exercises them)."""
    def run(mutate):
        ref = reference_forward.Model(model_dir)
        mutate(ref)
        return maxdiff(reference_forward.greedy(ref, PROMPT, logits.shape[0])[0], logits)

    def no_clamp(r):
        r.cfg["swiglu_limit"] = float("inf")

    def no_sinks(r):
        for n in range(r.L):
            r.w["model.layers.%d.self_attn.sinks" % n][:] = -np.inf

    def truncate(r):
        r.cfg["rope_scaling"]["truncate"] = True
        r.inv_freq, r.attention_scaling = reference_forward.rope_parameters(r.cfg)

    def no_attention_factor(r):
        r.attention_scaling = 1.0

    for name, f in (("swiglu clamp", no_clamp), ("sinks", no_sinks), ("yarn truncate=false", truncate),
                    ("yarn attention factor", no_attention_factor)):
        d = run(f)
        check(d > 1e-3, "gptoss: the model exercises the %s" % name, "logits move by %.3g without it" % d)


def check_importer(xfc, arch, model_dir):
    if not xfc or not os.path.exists(xfc):
        print("SKIP  %s: xfc --emit=spec (no %s)" % (arch, xfc))
        return
    r = subprocess.run([xfc, os.path.join(model_dir, "config.json"), "--emit=spec"], capture_output=True, text=True)
    check(r.returncode == 0, "%s: xfc --emit=spec accepts config.json" % arch, r.stderr.strip()[-300:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--keep", help="generate the models under this folder and keep them")
    default_xfc = os.path.join(HERE, "..", "..", "build", "bin", "xfc")
    ap.add_argument("--xfc", default=os.path.normpath(default_xfc))
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    root = args.keep or tempfile.mkdtemp(prefix="xf-tiny-")
    os.makedirs(root, exist_ok=True)
    try:
        for arch in ARCHS:
            d = gen(root, arch)
            check_importer(args.xfc, arch, d)
            logits, tokens = check_decode(arch + " f32", d, args.max_new)
            check_cli(arch + " f32", d, args.max_new, logits, tokens, root)
            if arch != "llama":
                check_window_matters(arch, d, logits)
            if arch == "gptoss":
                check_features_matter(d, logits)
            check_rounding(root, arch)
            check_shards(root, arch)
            for dtype in ("bf16", "f16"):
                check_decode("%s %s" % (arch, dtype), gen(root, arch, dtype), args.max_new)
            check_decode("%s bf16 shards=2 seed=1" % arch, gen(root, arch, "bf16", 2, seed=1), args.max_new)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print()
    if failures:
        print("FAIL: %d check(s) failed: %s" % (len(failures), "; ".join(failures)))
        return 1
    print("PASS: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
