#!/usr/bin/python3
"""The PyTorch eager peer of bench/run_model_bench: a llama-style forward with a KV cache, float32.

    /usr/bin/python3 bench/torch_model.py --model DIR --prompt-ids 1,2,3 [--max-new N] [--runs R]
        [--threads 2] [--mv] [--int8]

DIR holds a Hugging Face config.json (LlamaForCausalLM or MistralForCausalLM without a sliding window,
default RoPE) and model.safetensors (or model.safetensors.index.json with shards). Plain nn modules in the
Hugging Face layout and conventions (LlamaRMSNorm, rotate-half RoPE, separate q/k/v and gate/up/down
projections, softmax in float32), torch.no_grad, torch.set_num_threads(--threads). Nothing here comes from
the xf sources; the safetensors reader is a few lines of json and numpy.

Generation mirrors `xf-run MODEL --max-new N`: prefill the prompt (logits of the last position only), then
N - 1 decode steps, each feeding the argmax of the previous logits; N tokens are printed. Timed like
xf-run: prefill = the prompt's forward; decode = from after the prefill to the last step (argmax included).
One untimed warm-up generation, then --runs timed ones, each with a fresh KV cache; the best prefill and the
best decode are reported, plus the warm-up's (first, cold) prefill.

--mv sends single-token linears through torch.mv (GEMV) rather than nn.Linear's addmm (a GEMM with M = 1,
several times slower here); run_model_bench times torch both as-is and tuned (--mv with OMP_WAIT_POLICY=
PASSIVE, which stops libgomp's idle threads from spinning against OpenBLAS's own threads on the 2 cores).

--int8 is PyTorch's own int8 inference, the peer of xf-run --dot int8: torch.ao.quantization.quantize_dynamic
turns every projection (lm_head included) into a dynamically quantized linear, int8 weights per output channel
(per_channel_dynamic_qconfig), activations quantized per call, products on the quantized engine (here oneDNN).

Attention: the 4 query heads of a kv head multiply its K and V in one batched matmul (q viewed as
[Hkv, group * S, D]) instead of HF's repeat_kv copy, which only makes the peer faster; the KV cache is
preallocated ([1, Hkv, max_tokens, D] per layer) rather than grown by torch.cat. Output lines:
    tokens: t0,t1,...
    prefill: S tokens in X ms, Y tokens/s
    prefill_first: S tokens in X ms, Y tokens/s
    decode: N-1 tokens in X ms, Y tokens/s
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------------
def read_safetensors(path):
    """{name: float32 torch tensor} of one .safetensors file (F32, F16, BF16)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    n = int.from_bytes(bytes(raw[:8]), "little")
    header = json.loads(bytes(raw[8:8 + n]).decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        chunk = raw[base + begin:base + end]
        dtype = info["dtype"]
        if dtype == "F32":
            a = np.array(chunk.view("<f4"))
        elif dtype == "F16":
            a = chunk.view("<f2").astype(np.float32)
        elif dtype == "BF16":
            a = (chunk.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError("%s: unsupported dtype %s" % (name, dtype))
        out[name] = torch.from_numpy(a.reshape(info["shape"]))
    return out


def read_weights(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        weights = {}
        for fname in files:
            weights.update(read_safetensors(os.path.join(folder, fname)))
        return weights
    return read_safetensors(os.path.join(folder, "model.safetensors"))


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, weight, eps):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


class Linear(nn.Linear):
    """nn.Linear; with Linear.mv set, a single token goes through torch.mv (a BLAS GEMV) instead of
    nn.Linear's addmm, which hands BLAS a GEMM with M = 1."""

    mv = False

    def forward(self, x):
        if Linear.mv and x.numel() == x.shape[-1]:
            return torch.mv(self.weight, x.reshape(-1)).view(*x.shape[:-1], -1)
        return super().forward(x)


def linear(weight):
    layer = nn.utils.skip_init(Linear, weight.shape[1], weight.shape[0], bias=False)
    layer.weight = nn.Parameter(weight, requires_grad=False)
    return layer


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg, w, prefix):
        super().__init__()
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.heads
        self.group = self.heads // self.kv_heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.q_proj = linear(w[prefix + "q_proj.weight"])
        self.k_proj = linear(w[prefix + "k_proj.weight"])
        self.v_proj = linear(w[prefix + "v_proj.weight"])
        self.o_proj = linear(w[prefix + "o_proj.weight"])

    def forward(self, x, cos, sin, cache, pos0, mask):
        S = x.shape[1]
        D, Hkv, G = self.head_dim, self.kv_heads, self.group
        q = self.q_proj(x).view(1, S, self.heads, D).transpose(1, 2)
        k = self.k_proj(x).view(1, S, Hkv, D).transpose(1, 2)
        v = self.v_proj(x).view(1, S, Hkv, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        cache_k, cache_v = cache
        T = pos0 + S
        cache_k[:, :, pos0:T] = k
        cache_v[:, :, pos0:T] = v
        keys, values = cache_k[:, :, :T], cache_v[:, :, :T]
        # Query head h reads kv head h // G: [1, H, S, D] -> [1, Hkv, G * S, D].
        qg = q.reshape(1, Hkv, G * S, D)
        scores = torch.matmul(qg, keys.transpose(2, 3)) * self.scale
        if mask is not None:
            scores = (scores.view(1, Hkv, G, S, T) + mask).view(1, Hkv, G * S, T)
        probs = F.softmax(scores, dim=-1, dtype=torch.float32)
        out = torch.matmul(probs, values).view(1, self.heads, S, D)
        return self.o_proj(out.transpose(1, 2).reshape(1, S, self.heads * D))


class MLP(nn.Module):
    def __init__(self, w, prefix):
        super().__init__()
        self.gate_proj = linear(w[prefix + "gate_proj.weight"])
        self.up_proj = linear(w[prefix + "up_proj.weight"])
        self.down_proj = linear(w[prefix + "down_proj.weight"])

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, cfg, w, n):
        super().__init__()
        p = "model.layers.%d." % n
        eps = cfg.get("rms_norm_eps", 1e-6)
        self.input_layernorm = RMSNorm(w[p + "input_layernorm.weight"], eps)
        self.self_attn = Attention(cfg, w, p + "self_attn.")
        self.post_attention_layernorm = RMSNorm(w[p + "post_attention_layernorm.weight"], eps)
        self.mlp = MLP(w, p + "mlp.")

    def forward(self, x, cos, sin, cache, pos0, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, pos0, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        if cfg.get("rope_scaling") or cfg.get("sliding_window") or cfg.get("attention_bias") or cfg.get("mlp_bias"):
            raise ValueError("torch_model.py implements plain llama only (no rope_scaling, window or biases)")
        self.cfg = cfg
        self.embed_tokens = nn.Embedding.from_pretrained(w["model.embed_tokens.weight"], freeze=True)
        self.layers = nn.ModuleList(Layer(cfg, w, n) for n in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(w["model.norm.weight"], cfg.get("rms_norm_eps", 1e-6))
        head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
        self.lm_head = linear(head)
        attn = self.layers[0].self_attn
        D = attn.head_dim
        base = cfg.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (base ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))

    def new_cache(self, max_tokens):
        attn = self.layers[0].self_attn
        shape = (1, attn.kv_heads, max_tokens, attn.head_dim)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.layers]

    def forward(self, ids, cache, pos0):
        """Logits [vocab] of the last of `ids` (a [1, S] long tensor) at positions pos0 .. pos0 + S - 1."""
        S = ids.shape[1]
        x = self.embed_tokens(ids)
        positions = torch.arange(pos0, pos0 + S, dtype=torch.float32)
        freqs = torch.outer(positions, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = None
        if S > 1:
            T = pos0 + S
            visible = torch.arange(T)[None, :] <= (pos0 + torch.arange(S))[:, None]
            mask = torch.zeros(S, T).masked_fill(~visible, float("-inf"))
        for layer, layer_cache in zip(self.layers, cache):
            x = layer(x, cos, sin, layer_cache, pos0, mask)
        return self.lm_head(self.norm(x[:, -1]))[0]


def generate(model, prompt, max_new):
    """Greedy generation as xf-run does it; returns (tokens, prefill seconds, decode seconds)."""
    cache = model.new_cache(len(prompt) + max_new)
    ids = torch.tensor([prompt], dtype=torch.long)
    start = time.perf_counter()
    logits = model(ids, cache, 0)
    prefill = time.perf_counter() - start
    tokens = []
    pos = len(prompt)
    decode_start = time.perf_counter()
    for step in range(max_new):
        nxt = int(torch.argmax(logits))
        tokens.append(nxt)
        if step + 1 == max_new:
            break
        logits = model(torch.tensor([[nxt]], dtype=torch.long), cache, pos)
        pos += 1
    decode = time.perf_counter() - decode_start
    return tokens, prefill, decode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--max-new", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mv", action="store_true", help="single-token linears through torch.mv (see Linear)")
    ap.add_argument("--int8", action="store_true", help="projections dynamically quantized to int8 (quantize_dynamic)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    Linear.mv = args.mv
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    prompt = [int(t) for t in args.prompt_ids.split(",")]
    with torch.no_grad():
        model = Llama(cfg, read_weights(args.model)).eval()
        if args.int8:
            for m in model.modules():
                if type(m) is Linear:
                    m.__class__ = nn.Linear  # what quantize_dynamic converts (Linear only adds --mv)
            q = torch.ao.quantization
            model = q.quantize_dynamic(model, {nn.Linear: q.per_channel_dynamic_qconfig})
        tokens, first_prefill, _ = generate(model, prompt, args.max_new)  # warm-up
        best_prefill = best_decode = float("inf")
        for _ in range(args.runs):
            t, prefill, decode = generate(model, prompt, args.max_new)
            if t != tokens:
                print("torch: tokens differ between runs", file=sys.stderr)
                return 1
            best_prefill = min(best_prefill, prefill)
            best_decode = min(best_decode, decode)
    S, N = len(prompt), args.max_new - 1
    print("tokens: " + ",".join(map(str, tokens)))
    print("prefill: %d tokens in %.3f ms, %.1f tokens/s" % (S, best_prefill * 1e3, S / best_prefill))
    print("prefill_first: %d tokens in %.3f ms, %.1f tokens/s" % (S, first_prefill * 1e3, S / first_prefill))
    if N > 0:
        print("decode: %d tokens in %.3f ms, %.1f tokens/s" % (N, best_decode * 1e3, N / best_decode))
    print("torch: %s, %d threads, OMP_WAIT_POLICY=%s, single-token linears: %s"
          % (torch.__version__, torch.get_num_threads(), os.environ.get("OMP_WAIT_POLICY", "(unset)"),
             ("dynamic int8 (%s engine)" % torch.backends.quantized.engine) if args.int8
             else "torch.mv" if args.mv else "nn.Linear (addmm)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
