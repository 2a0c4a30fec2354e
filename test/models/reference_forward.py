#!/usr/bin/python3
"""Float64 NumPy reference forward pass and greedy decoding for tiny Hugging Face checkpoints.

    /usr/bin/python3 test/models/reference_forward.py --model DIR --prompt-ids 1,2,3 --max-new N
        --out logits.npy [--print-tokens] [--kv-dtype f32|bf16|f16] [--moh SHARED,TOPK] [--affine clip|sigmoid]
        [--dot int8]

Reads DIR/config.json and DIR/model.safetensors (or DIR/model.safetensors.index.json and its shards),
F32 / F16 / BF16 tensors, every weight widened exactly to float64. Supported: ARCHITECTURES below (Llama,
Mistral, gpt-oss, Gemma 1/2/3, Qwen 2/3, Mixtral, Phi-3, Qwen2/3-MoE, SmolLM3, Granite, Granite MoE,
OLMo 2, StableLM, Starcoder 2, Phi, GPT-NeoX, GLM, GLM-4, Cohere, GPT-2, OLMoE, ERNIE 4.5, EXAONE 4.0, Seed-OSS,
OLMo 3, Helium, GLM-4.5 MoE, ERNIE 4.5 MoE, dots.llm1, Phi-3.5-MoE, DeepSeek-V3, Cohere 2, Arcee, Nemotron) and the
Gemma 3 / Mistral 3 multimodal packagings (the configs that gen_tiny_model.py writes, and the same architectures at
other sizes; config fields left out take the transformers class defaults).

Greedy decoding: the prompt runs as one causal prefill; row 0 of the output is the logits of the last
prompt position, its argmax is the first generated token; row k is the logits after feeding generated
token k-1 (one token at a time, with a KV cache). N rows, N generated tokens (the last one is not fed).
Saves float32 [N, vocab] to --out and prints `tokens: t0,t1,...` on stdout. --print-tokens adds one
line per step on stderr (step, token, its logit, the runner-up margin).

Written from the transformers modeling code (modeling_llama / _mistral / _gpt_oss / _gemma / _gemma2 / _qwen2 /
_qwen3 / _qwen2_moe / _qwen3_moe / _gemma3 / _mixtral / _phi3 / _olmo2 / _olmoe / _ernie4_5 / _exaone4 / _seed_oss /
_olmo3 / _helium / _glm4_moe / _ernie4_5_moe / _dots1 / _phimoe / _deepseek_v3 / _cohere / _cohere2 / _arcee /
_nemotron, modeling_rope_utils, activations) and /work/shared/VARIANTS.md;
it shares no code with the xf repository. Conventions:
  * RMSNorm: x / sqrt(mean(x^2) + eps) * w; Gemma: * (1 + w).
  * LayerNorm (nn.LayerNorm): (x - mean) / sqrt(var + eps) * w + b, var the mean squared deviation; Nemotron's
    NemotronLayerNorm1P: * (1 + w) + b.
  * Activations (hidden_act, as transformers' ACT2FN names them): silu / swish, gelu (exact, erf), gelu_pytorch_tanh /
    gelu_new / gelu_fast (the tanh form), relu, relu2 (ReLUSquaredActivation: relu(x)^2).
  * Gemma (1): Llama's layout with (1 + w) norms, embeddings times sqrt(hidden) rounded to the config
    dtype, gelu_pytorch_tanh unless hidden_activation says otherwise (hidden_act is ignored), tied
    embeddings by default.
  * RoPE: rotate-half pairing (i, i + r/2) over the first r = int(head_dim * partial_rotary_factor)
    dims of each head (the rest pass through); inv_freq[i] = base^(-2i/r); linear, llama3 and yarn
    scaling as in _compute_linear_scaling_rope_parameters / _compute_llama3_parameters /
    _compute_yarn_parameters (transformers 5's: the factor as given, where 4.x replaced it by max_position_embeddings /
    original_max_position_embeddings when rope_scaling gives the latter; original_max_position_embeddings that of
    rope_scaling, else max_position_embeddings; the correction range floored and ceiled unless truncate is false);
    yarn's attention_factor multiplies cos and sin: rope_scaling's when given, else mscale(factor, mscale) /
    mscale(factor, mscale_all_dim) when both are given and nonzero (DeepSeek-V3's form), else mscale(factor), with
    mscale(s, m = 1) = 0.1 m ln(s) + 1 (1 for s <= 1). longrope as
    _compute_longrope_parameters: inv_freq[i] = 1 / (ext[i] base^(2i/r)), ext = long_factor when the forward's
    sequence (its largest position + 1: every token so far) is longer than original_max_position_embeddings (of
    rope_scaling, else the top level, else max_position_embeddings), short_factor otherwise; cos and sin times
    attention_factor (default sqrt(1 + ln(f) / ln(original)) with f = factor, else max_position_embeddings /
    original; 1 when f <= 1). HF recomputes the choice in every forward (Phi-3's dynamic_rope_update,
    PhimoeRotaryEmbedding.forward), and the cached keys keep the rotation of the forward that computed them: a
    prefill of P tokens rotates all of them by P's choice, each decoded token by its own length's. (HF's
    generate() also drops the cache when the sequence first passes the original length and recomputes every key
    with the long factors, PhimoeForCausalLM.prepare_inputs_for_generation; a forward with past_key_values, which
    this follows, does not.)
  * Attention: scale 1/sqrt(head_dim) (Gemma 2: 1/sqrt(query_pre_attn_scalar)); query head h reads kv
    head h // (H / Hkv); causal; a sliding window W lets the query at position p see keys j with
    p - W < j <= p (W keys, itself included). Which layers slide: Mistral, Mixtral, Phi-3 every layer
    when sliding_window is set; gpt-oss and Gemma 2 layer_types, by default the even layers; Qwen 2/3
    only with use_sliding_window, then layer_types, by default the layers i >= max_window_layers; dots.llm1
    layer_types, by default the layers i >= max_window_layers while sliding_window is set; Cohere 2 layer_types,
    by default the layers with (i + 1) % sliding_window_pattern != 0.
  * Gemma 2: embeddings times sqrt(hidden) rounded to the config dtype (a tensor of that dtype in HF);
    sandwich norms (input / post_attention around attention, pre / post_feedforward around the MLP,
    each output normed before its residual add); scores z -> c tanh(z / c) with c =
    attn_logit_softcapping after scaling, before the mask; logits -> c tanh(logits / c) with c =
    final_logit_softcapping; gelu_pytorch_tanh; embeddings tied by default.
  * Qwen 3: q_norm / k_norm, RMSNorm over head_dim of each head, after the projections, before RoPE.
  * Granite: Llama whose embeddings are multiplied by embedding_multiplier, whose attention and MLP
    outputs are multiplied by residual_multiplier before their residual adds, whose score scale is
    attention_multiplier (not head_dim^-0.5; class default 1), and whose logits are divided by
    logits_scaling.
  * Granite MoE: Granite's multipliers; every layer's MLP a mixture: router block_sparse_moe.router.layer
    (no bias), the top num_experts_per_tok logits with a softmax over them; expert e computes
    output_linear[e] (act(gate x) * up x), gate and up the first and last intermediate_size rows of
    input_linear[e] ([E, 2I, hidden], nn.Linear layout per expert).
  * StableLM: Llama's layout with nn.LayerNorm ((x - mean) / sqrt(var + eps) * w + b, var the mean
    squared deviation, eps layer_norm_eps) for every norm, q/k/v biases with use_qkv_bias, RoPE on the
    first partial_rotary_factor (default 0.25) of each head; with qk_layernorm (StableLM 2 12B) q and k
    normed per head as Cohere's use_qk_norm, head h by self_attn.q_layernorm.norms.h / k_layernorm.norms.h
    (StableLmLayerNormPerHead: nn.LayerNorm(head_dim) without bias per head).
  * Starcoder 2: nn.LayerNorm (eps norm_epsilon) with biases, biases on q, k, v, o (use_bias), the MLP
    c_proj(act(c_fc x)) with biases and no gate, sliding_window on every layer when set; embeddings
    tied unless tie_word_embeddings is false (PretrainedConfig's default).
  * Phi, and StableLM with use_parallel_residual: x + attention(ln(x)) + mlp(ln(x)) with one nn.LayerNorm (input_layernorm, layer_norm_eps);
    biases on q, k, v, self_attn.dense (the output projection), mlp.fc1 / fc2 (no gate, gelu_new) and the
    lm_head; RoPE on the first partial_rotary_factor (default 0.5) of each head; model.final_layernorm.
  * GPT-NeoX: x + attention(input_layernorm(x)) + mlp(post_attention_layernorm(x)) (use_parallel_residual,
    the default; otherwise Llama's order), nn.LayerNorm (layer_norm_eps) everywhere; q, k and v of each
    head in turn in attention.query_key_value (rows [head][q | k | v][dim]), output attention.dense, MLP
    mlp.dense_4h_to_h(act(mlp.dense_h_to_4h x)) (hidden_act, default gelu), all with biases; RoPE on the
    first rotary_pct (default 0.25) of each head with base rotary_emb_base; tensors under gpt_neox. (read
    here as model.: embed_in as embed_tokens, final_layer_norm as norm) and embed_out as the lm_head.
  * GLM: Llama's blocks with q/k/v biases (attention_bias, default true; none on o_proj), mlp.gate_up_proj
    as Phi-3's, RoPE on the first partial_rotary_factor (default 0.5) of each head in adjacent pairs
    (2i, 2i + 1) with frequency i (apply_rotary_pos_emb's repeat_interleave); num_key_value_heads
    default 2, head_dim 128, rms_norm_eps 1.5625e-7.
  * GLM-4 (Glm4ForCausalLM): GLM with Gemma 2's sandwich (without (1 + w)) under its own names:
    post_self_attn_layernorm after attention, post_attention_layernorm before the MLP, post_mlp_layernorm
    after it (read here under Gemma's names).
  * Cohere: x + attention(ln(x)) + mlp(ln(x)) with one LayerNorm without bias (input_layernorm,
    layer_norm_eps; model.norm the same), RoPE over every head dim in adjacent pairs (2i, 2i + 1)
    (repeat_interleave'd frequencies), embeddings tied unless tie_word_embeddings is false, the logits
    times logit_scale (default 0.0625). use_qk_norm (Command R+): q and k, after the projections and
    before RoPE, each LayerNorm'd without bias over head_dim of each head, with each head's own gains
    (self_attn.q_norm.weight [H, D], k_norm.weight [Hkv, D]: CohereLayerNorm of shape (heads, head_dim)).
  * Cohere 2 (Cohere2ForCausalLM: Command R7B, Command A): Cohere's parallel block (x + attention(ln(x)) +
    mlp(ln(x)), one LayerNorm without bias, layer_norm_eps; model.norm the same), SwiGLU MLP, biases on q, k, v and
    o_proj with attention_bias (default false; a checkpoint whose bias tensors disagree is refused), the logits times
    logit_scale (default 0.0625), embeddings tied unless tie_word_embeddings is false; no q/k norms (use_qk_norm, which
    Cohere2Config has not, is ignored). head_dim is always hidden / heads (Cohere2Config overwrites a given one).
    Layer types as Cohere2Config: layer_types when given (sliding_window_pattern beside them ignored), else layer i
    slides unless (i + 1) % sliding_window_pattern == 0 (default 4); sliding layers see the last sliding_window keys
    (default 4096) and rotate (Cohere's adjacent pairs, rope_theta), full layers have no positional encoding (NoPE).
    sliding_window null is refused: Cohere2Model builds a sliding-window mask in every forward and transformers raises
    without a window (and no layer would rotate).
  * GPT-2: the embeddings plus a learned position table (wpe, row = position), no RoPE; Llama's order
    with nn.LayerNorm (ln_1, ln_2, ln_f; layer_norm_epsilon); Conv1D projections y = x W + b with W
    [in, out] (attn.c_attn's outputs q | k | v, attn.c_proj, mlp.c_proj(act(mlp.c_fc x)), act
    activation_function, default gelu_new); scores times 1/sqrt(head_dim) (1 without scale_attn_weights);
    embeddings tied; the config's own names (n_embd, n_head, n_layer, n_positions, n_inner: null for
    4 * n_embd); tensors under transformer. or, saved from GPT2Model, without it.
  * OLMo 2: x + post_attention_layernorm(attention(x)), then x + post_feedforward_layernorm(mlp(x)) (no
    norm before either); q_norm / k_norm: RMSNorm over each token's whole q (H*D) and k (Hkv*D)
    projections, before the split into heads and RoPE.
  * OLMo 3 (Olmo3ForCausalLM): OLMo 2 (Olmo3DecoderLayer, Olmo3Attention) with sliding layers: layer_types when
    given, else layer i slides unless (i + 1) % 4 == 0 (Olmo3Config has no pattern field); sliding layers see the
    last sliding_window keys (class default 4096; null: they see everything). Every layer rotates, with the same
    RoPE; a scaled RoPE beside sliding layers is refused, as xf's importer does (transformers releases disagree on
    whether the sliding layers apply the scaling). Class defaults num_key_value_heads = heads, head_dim = hidden /
    heads, rms_norm_eps 1e-5, untied embeddings.
  * OLMoE (OlmoeForCausalLM): Llama's pre-norm blocks (input_layernorm, post_attention_layernorm) with OLMo 2's
    q_norm / k_norm (OlmoeRMSNorm(hidden_size), OlmoeRMSNorm(head_dim * num_key_value_heads): over each token's
    whole q and k projections, before the split into heads and RoPE); every layer's MLP a mixture routed as
    Qwen3-MoE's (OlmoeSparseMoeBlock: router mlp.gate, softmax over all experts, top num_experts_per_tok (class
    default 8), divided by their sum only if norm_topk_prob (default false)), experts of intermediate_size; no
    biases, head_dim = hidden / heads, rms_norm_eps default 1e-5; clip_qkv must be null (not implemented).
  * ERNIE 4.5 dense (Ernie4_5ForCausalLM): Llama's pre-norm blocks; RoPE over every head dim in adjacent pairs
    (2i, 2i + 1) with frequency i, as Cohere's (its apply_rotary_pos_emb: GLM's with the full dim); with use_bias
    (default false) biases on q, k, v, o_proj and on the MLP's gate_proj, up_proj and down_proj (a checkpoint
    whose bias tensors disagree with use_bias is refused); class defaults head_dim 128 (hidden / heads only when
    null), num_key_value_heads 2, rope_theta 5e5, rms_norm_eps 1e-5, tied embeddings.
  * EXAONE 4.0 (Exaone4ForCausalLM): OLMo 2's blocks (post_attention_layernorm / post_feedforward_layernorm
    after attention and MLP, no norm before) with Qwen 3's q_norm / k_norm (over head_dim of each head, one
    [head_dim] gain, before RoPE); no biases. Layer types as Exaone4Config: layer_types when given (a string
    sliding_window_pattern such as "LLLG" beside them is ignored), else layer i slides unless
    (i + 1) % sliding_window_pattern == 0 (class defaults sliding_window 4096, pattern 4); sliding layers see
    the last sliding_window keys. RoPE (with rope_scaling) only where sliding_window is null or the layer
    slides: with a window the full layers are NoPE. sliding_window null: every layer full and rotated
    (whatever layer_types says; HF cannot derive them then, its pattern 0 divides by zero). Class defaults
    num_key_value_heads = heads, head_dim = hidden / heads, rms_norm_eps 1e-5, untied embeddings.
  * Seed-OSS (SeedOssForCausalLM): Llama's blocks and RoPE (rotate-half over the whole head), scores times
    head_dim^-0.5 with the config's head_dim; biases on q, k and v with attention_bias (default true), on o_proj
    with attention_out_bias (default false), on the MLP's gate_proj, up_proj and down_proj with mlp_bias (default
    false) (a checkpoint whose bias tensors disagree with the three is refused); class defaults head_dim 128
    (hidden / heads only when null), num_key_value_heads 8, rms_norm_eps 1e-6, rope_theta 1e4, untied
    embeddings; attention_dropout and residual_dropout act in training only.
  * Helium (HeliumForCausalLM): Llama's pre-norm blocks and SwiGLU MLP; RoPE over every head dim in adjacent pairs
    (2i, 2i + 1) with frequency i, as ERNIE 4.5's; biases on q, k and v with attention_bias (default false), never on
    o_proj (nn.Linear(hidden, hidden, bias=False)), on the MLP's gate_proj, up_proj and down_proj with mlp_bias (default
    false) (a checkpoint whose bias tensors disagree with the two is refused); class defaults head_dim 128,
    num_key_value_heads 20 (whatever the head count), rope_theta 1e5, rms_norm_eps 1e-8, untied embeddings; o_proj
    needs heads * head_dim = hidden.
  * Arcee (ArceeForCausalLM: AFM-4.5B): Llama's pre-norm blocks, attention and RoPE (biases on q, k, v and o_proj with
    attention_bias, default false; rope_scaling as above, AFM-4.5B's yarn with mscale 1.0 and no mscale_all_dim: cos and
    sin times mscale(factor)); the MLP ArceeMLP (NemotronMLP's) has no gate: down_proj(act(up_proj x)), biases on both
    with mlp_bias (default false), act = ACT2FN[hidden_act] (default relu2; relu too). Every tensor must be one the
    class loads (a Llama checkpoint's mlp.gate_proj is refused), and each of those must be there. Class defaults
    rms_norm_eps 1e-5, rope_theta 1e4, head_dim = hidden / heads, num_key_value_heads = heads, untied embeddings.
  * Nemotron (NemotronForCausalLM: Nemotron-4, Minitron, Nemotron-Mini): Llama's pre-norm blocks, x + attention(
    input_layernorm(x)), then + mlp(post_attention_layernorm(.)), with every norm (model.norm too) a NemotronLayerNorm1P:
    F.layer_norm(x, weight + 1, bias, norm_eps), weight and bias tensors, eps from norm_eps (default 1e-5); Llama's
    attention (GQA, scores times head_dim^-0.5) with biases on q, k, v and o_proj with attention_bias (default false);
    RoPE rotate-half over the first int(head_dim * partial_rotary_factor) dims of each head (default 0.5), always the
    default RoPE (NemotronRotaryEmbedding hard-codes rope_type "default": rope_scaling is ignored, as there); Arcee's
    MLP (NemotronMLP) down_proj(act(up_proj x)) without a gate, biases on both with mlp_bias (default false), act =
    ACT2FN[hidden_act] (default relu2); embeddings unscaled. Every tensor must be one the class loads, and each of
    those must be there. Class defaults head_dim = hidden / heads (when absent or null), rope_theta 1e4, untied
    embeddings; num_key_value_heads has none (null: refused, as NemotronAttention cannot be built).
  * SmolLM3: Llama whose layers with no_rope_layers[i] == 0 (by default every no_rope_layer_interval-th)
    skip RoPE (NoPE); no sliding window (use_sliding_window false).
  * Gemma 3 and Mistral 3 multimodal (Gemma3 / Mistral3ForConditionalGeneration): the language model
    alone (a Gemma3ForCausalLM / MistralForCausalLM), its settings in
    text_config (the outer torch_dtype unless text_config has one), its tensors under language_model.model.
    and language_model.lm_head. (or model.language_model. and lm_head.); the vision tower is ignored.
  * Gemma 3: Gemma 2's (1 + w) sandwich norms, scaled embeddings, query_pre_attn_scalar and
    gelu_pytorch_tanh, without soft caps by default; q_norm / k_norm as Qwen 3 but (1 + w); layer i
    slides unless (i + 1) % sliding_window_pattern == 0 (or layer_types); sliding layers rotate with
    base rope_local_base_freq and no scaling, full layers with rope_theta and rope_scaling.
  * Qwen 2: biases on q, k and v projections (whatever tensors exist are added).
  * Phi-3: qkv_proj rows = [q (H*D); k (Hkv*D); v (Hkv*D)]; gate_up_proj rows = [gate (I); up (I)].
  * gpt-oss sinks: P[i,j] = exp(z[i,j]) / (exp(s[h]) + sum_j' exp(z[i,j'])), s not scaled.
  * gpt-oss MoE: softmax over the top-k router logits; gate/up interleaved; clamped SwiGLU
    (gate <= limit, |up| <= limit, gate * sigmoid(1.702 * gate) * (up + 1)).
  * Mixtral MoE: router `block_sparse_moe.gate` (no bias), softmax over all experts, top-k, renormalized
    (= softmax over the top-k logits); expert e: w2(silu(w1 x) * w3 x).
  * Qwen2-MoE: Qwen 2 attention (q, k, v biases), Qwen3-MoE's routing (num_experts_per_tok default 4),
    plus mlp.shared_expert (gate_proj / up_proj / down_proj of shared_expert_intermediate_size) on every
    token, its output times sigmoid(mlp.shared_expert_gate x) ([1, hidden], no bias), added to the
    routed experts' sum.
  * Qwen3-MoE: Qwen 3 attention (q_norm, k_norm); router `mlp.gate` (no bias), softmax over all experts,
    top-k of those probabilities, divided by their sum only if norm_topk_prob (class default false);
    expert e: down_proj(silu(gate_proj x) * up_proj x) of size moe_intermediate_size; no sliding window
    (use_sliding_window false).
  * Qwen2-MoE and Qwen3-MoE dense layers: layer i has the mixture only if i is not in mlp_only_layers (default
    []), num_experts > 0 and (i + 1) % decoder_sparse_step == 0 (default 1); otherwise a dense MLP
    mlp.{gate,up,down}_proj of intermediate_size (Qwen2-MoE's without a shared expert).
  * GLM-4.5 MoE (Glm4MoeForCausalLM: GLM-4.5, GLM-4.5-Air, GLM-4.6): Llama's pre-norm blocks; biases on q, k and v
    with attention_bias (default false), never on o_proj; use_qk_norm (default false): q_norm / k_norm, an RMSNorm
    over head_dim with one [head_dim] gain for every head, before RoPE (as Qwen 3); RoPE rotate-half (not GLM's
    adjacent pairs) over the first partial_rotary_factor (default 0.5) of each head; scores times head_dim^-0.5.
    Layers i < first_k_dense_replace (default 1): a dense MLP of intermediate_size; the others Glm4MoeMoE: s =
    sigmoid(x . mlp.gate.weight) (no bias) over n_routed_experts (default 128); choice scores c = s +
    mlp.gate.e_score_correction_bias (float32 in the checkpoints); c viewed as n_group (default 1) groups, each
    scored by the sum of its 2 largest c; the topk_group (default 1) best groups kept (ties to the lower group),
    the other groups' experts scored 0.0 (not -inf: they can beat negative scores); the top num_experts_per_tok
    (default 8) experts by those scores (ties to the lower expert) weighted by s (without the bias), divided by
    their sum + 1e-20 if norm_topk_prob (default true), times routed_scaling_factor (default 1); experts
    mlp.experts.E.{gate,up,down}_proj of moe_intermediate_size, plus mlp.shared_experts (gate_proj / up_proj /
    down_proj of moe_intermediate_size * n_shared_experts (default 1), no gate) on every token. The
    num_nextn_predict_layers multi-token-prediction layers the checkpoints hold after the last
    (model.layers.{num_hidden_layers + i}.*) are ignored, as the class does; every other tensor must be one the
    class loads, and each of those must be there. Class defaults num_key_value_heads 8, head_dim = hidden / heads,
    rms_norm_eps 1e-5, rope_theta 1e4, untied embeddings.
  * ERNIE 4.5 MoE (Ernie4_5_MoeForCausalLM: ERNIE-4.5-21B-A3B, ERNIE-4.5-300B-A47B): ERNIE 4.5's blocks and RoPE
    (adjacent pairs over every head dim); use_bias must be false (as published; with it the experts and the lm_head
    would have biases too: refused). Layer i is an Ernie4_5_MoeSparseMoeBlock iff
    (i + 1) % moe_layer_interval (default 1) == 0 and moe_layer_start_index (default 1) <= i <= moe_layer_end_index
    (default -1: num_hidden_layers - 1, as Ernie4_5_MoeConfig resolves it), otherwise a dense MLP
    mlp.{gate,up,down}_proj of intermediate_size. The block: p = softmax(x . mlp.gate.weight) (no bias; float32 in the
    checkpoints) over moe_num_experts (default 64); the top moe_k (default 6) experts by p +
    mlp.moe_statics.e_score_correction_bias ([1, E], float32) (ties to the lower expert), weighted by p (without the
    bias) divided by max(their sum, moe_norm_min) (default 1e-12); experts mlp.experts.E.{gate,up,down}_proj of
    moe_intermediate_size, plus, when moe_num_shared_experts (default 2) > 0, mlp.shared_experts (gate_proj / up_proj /
    down_proj of moe_intermediate_size * moe_num_shared_experts, no gate) on every token. Every tensor whose name
    contains "mtp" (the multi-token-prediction layer: model.mtp_block.N.*, model.mtp_emb_norm.N, ...) is ignored, as the
    class does (_keys_to_ignore_on_load_unexpected ["mtp"]); every other tensor must be one the class loads, and each of
    those must be there. Class defaults num_key_value_heads 4, head_dim = hidden / heads, rope_theta 5e5, rms_norm_eps
    1e-5, tied embeddings.
  * dots.llm1 (Dots1ForCausalLM): Qwen 3's attention (Qwen3Attention: q_norm / k_norm, an RMSNorm over head_dim with
    one [head_dim] gain for every head, before RoPE; rotate-half RoPE over the whole head; scores times head_dim^-0.5)
    with biases on q, k, v and o_proj, all four, with attention_bias (default false); DeepseekV3DecoderLayer's pre-norm
    blocks and mixture, routed as GLM-4.5 MoE's (DeepseekV3TopkRouter is Glm4MoeTopkRouter: the sigmoid, the float32
    e_score_correction_bias in the choice only, the group limit with the dropped groups' experts scored 0.0, the
    weights divided by their sum + 1e-20 with norm_topk_prob, times routed_scaling_factor; the shared experts added),
    the layers i < first_k_dense_replace dense. Layer types as Dots1Config: layer_types when given, else layer i slides
    iff sliding_window is not null and i >= max_window_layers; sliding layers see the last sliding_window keys. No MTP
    layer: _keys_to_ignore_on_load_unexpected is None, so every tensor must be one the class loads, and each of those
    must be there. Class defaults num_key_value_heads 32, head_dim = hidden / heads, rms_norm_eps 1e-6, rope_theta 1e4,
    n_group 1, topk_group 1, first_k_dense_replace 0, norm_topk_prob false, routed_scaling_factor 1, sliding_window
    4096, max_window_layers 62, untied embeddings; n_routed_experts, num_experts_per_tok and n_shared_experts have none
    (null: refused).
  * Phi-3.5-MoE (PhimoeForCausalLM): MixtralDecoderLayer's pre-norm blocks with nn.LayerNorm (weight and bias, eps
    rms_norm_eps) for input_layernorm, post_attention_layernorm and model.norm; LlamaAttention (biases on q, k, v and
    o_proj with attention_bias, default false; rotate-half RoPE over the whole head; scores times head_dim^-0.5,
    head_dim = hidden / heads; no sliding window whatever sliding_window says); every layer a PhimoeSparseMoeBlock:
    logits = x . block_sparse_moe.gate.weight (no bias), routed by SparseMixer at inference
    (sparsemixer(training=False), eps = router_jitter_noise, default 0.01): the best expert t1 (ties to the lower),
    weighted by the softmax, at t1, of the logits with every expert e masked to -inf where
    (l[t1] - l[e]) / max(|l[e]|, l[t1]) > 2 eps (0 / 0 masks nothing); then the best t2 of the logits with t1 set to
    -inf, weighted likewise by the softmax of those logits masked where (l[t2] - l[e]) / max(|l[e]|, l[t2]) > 2 eps
    (l the logits with t1 included, as transformers' factor reads them); num_experts_per_tok must be 2 (class
    default). Experts block_sparse_moe.experts.E.{w1,w3,w2} as Mixtral's
    (intermediate_size). RoPE longrope when rope_scaling says so ("type" or "rope_type": PhimoeConfig requires
    short_mscale and long_mscale), with cos and sin times rope_scaling's long_mscale when the forward's sequence is
    longer than its original_max_position_embeddings, else short_mscale (PhimoeRotaryEmbedding), not longrope's
    attention factor. The lm_head has a bias with lm_head_bias (default false). Every tensor must be one the class
    loads, and each of those must be there. Class defaults num_key_value_heads 8, rope_theta 1e6, rms_norm_eps 1e-5,
    num_local_experts 16, untied embeddings; input_jitter_noise acts in training only.
  * DeepSeek-V3 (DeepseekV3ForCausalLM: DeepSeek-V3 / R1): Llama's pre-norm blocks with
    DeepseekV3Attention, multi-head latent attention over H heads: q = q_b_proj(RMSNorm(q_a_proj x)) (q_a_layernorm;
    with q_lora_rank null q_proj x) viewed [H, nope + rope] (qk_nope_head_dim, qk_rope_head_dim); kv_a_proj_with_mqa
    x = [latent (kv_lora_rank), k_rot (rope)]; kv_b_proj(RMSNorm(latent)) (kv_a_layernorm) viewed [H, nope + dv]
    (v_head_dim) = [k_pass, value]. RoPE (head_dim = qk_rope_head_dim, rope_scaling as above) on each head's last rope
    query dims and on k_rot, one key for every head; with rope_interleave (default true) both are de-interleaved first
    ((x0, x1, x2, x3, ...) -> (x0, x2, ..., x1, x3, ...), apply_rotary_pos_emb_interleave), then rotate-half. Query
    [q_pass, q_rot], key [k_pass, k_rot], scores times (nope + rope)^-0.5, and with a rope type other than default and
    a nonzero rope_scaling mscale_all_dim also times mscale(factor, mscale_all_dim)^2; the heads' [S, dv] outputs
    through o_proj. Biases on q_a_proj, kv_a_proj_with_mqa and o_proj with attention_bias (default false), none on
    q_proj, q_b_proj, kv_b_proj. num_key_value_heads must be the head count (kv_b_proj gives each head its own key and
    value; DeepseekV3Attention's repeat_kv fails otherwise), head_dim absent or qk_rope_head_dim, no
    partial_rotary_factor (refused otherwise); --kv-dtype rounds each head's expanded keys and values. Layers
    i < first_k_dense_replace (default 3) a dense MLP of intermediate_size, the others DeepseekV3MoE: GLM-4.5 MoE's
    routing and shared experts (DeepseekV3TopkRouter, route_tokens_to_experts: the same code). The
    num_nextn_predict_layers MTP layers after the last are ignored, as GLM-4.5's; every other tensor must be one the
    class loads, of the shape the config gives, and each must be there. Class defaults DeepSeek-V3's sizes
    (q_lora_rank 1536, kv_lora_rank 512, qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128, 256 experts in 8
    groups, top 4 groups, top 8, one shared expert, routed_scaling_factor 2.5, norm_topk_prob true), rms_norm_eps
    1e-6, rope_theta 1e4, untied embeddings; topk_method, scoring_func, moe_layer_freq and ep_size, which published
    configs carry, are not read (as the class).
  * Mixture of Heads (--moh SHARED,TOPK = hs, k; any architecture, xf's xf-mixture-of-heads): for each token x (the
    input of q_proj) g_r = softmax(moh_router.w_routed x) over the H - hs routed heads hs..H-1, M its top-k mask (ties
    to the lower head), g~_r = k (g_r M) / max(sum(g_r M), 1e-6), g_s = hs softmax(moh_router.w_shared x) (empty with
    hs 0, when moh_router.w_shared may be missing), [a1, a2] = 2 softmax(moh_router.w_head x); head h's attention
    output for the token (before the output projection) times gate[h], gate = (a1 g_s, a2 g~_r). The tensors sit
    under self_attn., without a .weight suffix.
  * Affine scaling (--affine clip|sigmoid; any architecture, xf's xf-affine-scale): a = phi(self_attn.alpha_proj x)
    per token and head, phi clip: min(max(0.1 z + 0.5, 0), 1), sigmoid: 1 / (1 + exp(-z)); head h's output for query i
    a[i, h] (P V)[i] + (alpha_ma[h] - a[i, h]) times the mean of V over the keys i sees (the softmax's mask: causal and
    the window), alpha_ma = self_attn.alpha_ma [H]. With both, the gates multiply the affine output.
  * MXFP4 (gpt-oss experts stored as NAME_blocks U8 [..., G, 16] and NAME_scales U8 [..., G]), as
    transformers' convert_moe_packed_tensors: byte b of a group gives values 2b (low nibble) and 2b + 1
    (high nibble) from the e2m1 table, times 2^(scale - 127); the [..., G * 32] result is transposed on
    its last two axes into NAME.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
_ST_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2), "F64": ("<f8", 8), "U8": ("u1", 1),
              "BOOL": ("u1", 1)}
_E2M1 = np.array([+0.0, +0.5, +1.0, +1.5, +2.0, +3.0, +4.0, +6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


# Names of the tensors dequantize_mxfp4 made (--dot int8 leaves them unquantized, as xf keeps MXFP4 experts).
FROM_MXFP4 = set()


def dequantize_mxfp4(weights):
    """Replaces each NAME_blocks / NAME_scales pair by the float64 tensor NAME."""
    for blocks_name in [n for n in weights if n.endswith("_blocks")]:
        name = blocks_name[: -len("_blocks")]
        FROM_MXFP4.add(name)
        blocks, scales = weights.pop(blocks_name), weights.pop(name + "_scales")
        lo = _E2M1[blocks & 0x0F]
        hi = _E2M1[blocks >> 4]
        values = np.empty(blocks.shape[:-1] + (32,))
        values[..., 0::2] = lo
        values[..., 1::2] = hi
        values = np.ldexp(values, scales.astype(np.int64)[..., None] - 127)
        values = values.reshape(blocks.shape[:-2] + (blocks.shape[-2] * 32,))
        weights[name] = np.ascontiguousarray(np.swapaxes(values, -1, -2))
    return weights


def int8_values(a):
    """--dot int8's rounding of `a` (the model runtime's dense::Dot::I8): per row (last axis), in float32 arithmetic,
    scale s = max|row| / 127 (1 for a zero row), codes round(a / s) to nearest even, clamped to [-127, 127];
    returns codes * s in float64, the values its int32 products multiply (their sums are exact there)."""
    a32 = np.asarray(a, dtype=np.float32)
    amax = np.abs(a32).max(axis=-1, keepdims=True)
    s = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    codes = np.clip(np.rint(a32 / s), -127, 127)
    return codes.astype(np.float64) * s.astype(np.float64)


def read_safetensors(path):
    """{name: float64 array} from one .safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError("%s: unsupported dtype %s" % (name, dt))
        np_dt, size = _ST_DTYPES[dt]
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * size:
            raise ValueError("%s: data_offsets do not match shape %s" % (name, shape))
        raw = np.frombuffer(data[begin:end], dtype=np_dt)
        if dt in ("U8", "BOOL"):
            out[name] = raw.reshape(shape).copy()
            continue
        if dt == "BF16":
            # bfloat16 = the top 16 bits of a float32.
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = raw.astype(np.float64).reshape(shape)
    return out


def load_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        weights = {}
        for fname in sorted(set(weight_map.values())):
            for name, a in read_safetensors(os.path.join(model_dir, fname)).items():
                if weight_map.get(name) == fname:
                    weights[name] = a
        missing = set(weight_map) - set(weights)
        if missing:
            raise ValueError("tensors in the index but not in the shards: %s" % sorted(missing))
        return dequantize_mxfp4(weights)
    return dequantize_mxfp4(read_safetensors(os.path.join(model_dir, "model.safetensors")))


# --------------------------------------------------------------------------------------------------
# RoPE
# --------------------------------------------------------------------------------------------------
def rotary_dim(cfg):
    return int(cfg["head_dim"] * cfg.get("partial_rotary_factor", 1.0))


def rope_parameters(cfg, seq_len=None):
    """(inv_freq [d/2], attention_scaling) as transformers' modeling_rope_utils computes them, d the
    rotary dim int(head_dim * partial_rotary_factor); `seq_len`: the forward's sequence length (longrope's choice of
    factors; None: the short ones)."""
    d = rotary_dim(cfg)
    base = float(cfg["rope_theta"])
    inv_freq = 1.0 / base ** (np.arange(0, d, 2, dtype=np.float64) / d)
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv_freq, 1.0

    if kind == "linear":                          # every frequency divided by the factor
        return inv_freq / scaling["factor"], 1.0

    if kind == "llama3":
        factor = scaling["factor"]
        low_freq_factor = scaling["low_freq_factor"]
        high_freq_factor = scaling["high_freq_factor"]
        old_context_len = scaling["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        out = np.empty_like(inv_freq)
        for i, f in enumerate(inv_freq):
            wavelen = 2 * math.pi / f
            if wavelen < high_freq_wavelen:       # high frequency: unchanged
                out[i] = f
            elif wavelen > low_freq_wavelen:      # low frequency: interpolated
                out[i] = f / factor
            else:                                 # in between: smooth blend
                smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
                out[i] = (1 - smooth) * f / factor + smooth * f
        return out, 1.0

    if kind == "yarn":
        factor = scaling["factor"]
        original = scaling.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
        beta_fast = scaling.get("beta_fast") or 32
        beta_slow = scaling.get("beta_slow") or 1
        truncate = scaling.get("truncate", True)
        attention_factor = scaling.get("attention_factor")
        if attention_factor is None:
            # DeepSeek-V3's form: with mscale and mscale_all_dim both given and nonzero, their ratio (1 when they are
            # equal, as published: DeepseekV3Attention then scales the scores by mscale(mscale_all_dim)^2 instead);
            # else the paper's 0.1 ln(factor) + 1.
            mscale, mscale_all_dim = scaling.get("mscale"), scaling.get("mscale_all_dim")
            if mscale and mscale_all_dim:
                attention_factor = yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim)
            else:
                attention_factor = yarn_mscale(factor)

        def correction_dim(num_rotations):
            return d * math.log(original / (num_rotations * 2 * math.pi)) / (2 * math.log(base))

        low = correction_dim(beta_fast)
        high = correction_dim(beta_slow)
        if truncate:
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, d - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(d // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
        # ramp 0: extrapolation (keep inv_freq, high frequencies); ramp 1: interpolation (inv_freq/factor).
        out = (inv_freq / factor) * ramp + inv_freq * (1.0 - ramp)
        return out, attention_factor

    if kind == "longrope":
        original = longrope_original(cfg)
        factor = scaling.get("factor")
        if factor is None:                        # Phi-3's max_position_embeddings / original
            factor = cfg["max_position_embeddings"] / original
        attention_factor = scaling.get("attention_factor")
        if attention_factor is None:
            attention_factor = math.sqrt(1 + math.log(factor) / math.log(original)) if factor > 1.0 else 1.0
        ext = scaling["long_factor"] if seq_len and seq_len > original else scaling["short_factor"]
        if len(ext) != d // 2:
            raise ValueError("longrope lists %d factors; RoPE over %d dims needs %d" % (len(ext), d, d // 2))
        return 1.0 / (np.asarray(ext, dtype=np.float64) * base ** (np.arange(0, d, 2, dtype=np.float64) / d)), \
            attention_factor

    raise NotImplementedError("rope_type %r" % kind)


def yarn_mscale(factor, mscale=1.0):
    """transformers' get_mscale / yarn_get_mscale: 0.1 mscale ln(factor) + 1, 1 for factor <= 1."""
    return 1.0 if factor <= 1 else 0.1 * mscale * math.log(factor) + 1.0


def longrope_original(cfg):
    """longrope's original_max_position_embeddings: rope_scaling's, else the config's (Phi-3's field), else
    max_position_embeddings."""
    scaling = cfg.get("rope_scaling") or {}
    return (scaling.get("original_max_position_embeddings") or cfg.get("original_max_position_embeddings")
            or cfg["max_position_embeddings"])


def rotate(x, positions, inv_freq, attention_scaling, interleaved=False):
    """x [heads, S, D]; rotate-half RoPE at the given absolute positions over the first
    r = 2 len(inv_freq) dims of each head (pairs (i, i + r/2), or (2i, 2i + 1) if `interleaved`, both with
    frequency i); dims r..D-1 pass through."""
    angles = np.outer(positions, inv_freq)                        # [S, r/2]
    cos = np.cos(angles) * attention_scaling
    sin = np.sin(angles) * attention_scaling
    half = len(inv_freq)
    if interleaved:
        x1, x2, rest = x[..., 0:2 * half:2], x[..., 1:2 * half:2], x[..., 2 * half:]
        out = np.empty(x.shape[:-1] + (2 * half,))
        out[..., 0::2] = x1 * cos - x2 * sin
        out[..., 1::2] = x2 * cos + x1 * sin
        return np.concatenate([out, rest], axis=-1)
    x1, x2, rest = x[..., :half], x[..., half:2 * half], x[..., 2 * half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], axis=-1)


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------
def rms_norm(x, w, eps, unit_offset=False):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * (1.0 + w) if unit_offset else y * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


_erf = np.vectorize(math.erf)

ACTIVATIONS = {
    "silu": silu,
    "swish": silu,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_new": gelu_tanh,
    "gelu_fast": gelu_tanh,
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "relu": lambda x: np.maximum(x, 0.0),
    "relu2": lambda x: np.maximum(x, 0.0) ** 2,      # ReLUSquaredActivation (Arcee's and Nemotron's default)
}


def round_to_dtype(v, torch_dtype):
    """float(torch.tensor(v, dtype=torch_dtype)): round to nearest, ties to even."""
    if torch_dtype == "float16":
        return float(np.float16(v))
    if torch_dtype == "bfloat16":
        u = np.array([v], dtype=np.float32).view(np.uint32).astype(np.uint64)
        u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
        return float(u.astype(np.uint32).view(np.float32)[0])
    return float(np.float32(v))


def round_array(a, dtype):
    """`a` as xf's 16-bit KV cache holds it: float32 (what xf computes), then round to nearest even."""
    f = np.asarray(a, dtype=np.float32)
    if dtype == "f16":
        return f.astype(np.float16).astype(np.float64)
    if dtype == "bf16":
        u = f.view(np.uint32).astype(np.uint64)
        u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
        return u.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.asarray(a)


ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "GptOssForCausalLM", "GemmaForCausalLM",
                 "Gemma2ForCausalLM",
                 "Qwen3ForCausalLM", "Qwen2ForCausalLM", "MixtralForCausalLM", "Phi3ForCausalLM",
                 "Qwen3MoeForCausalLM", "Gemma3ForCausalLM", "SmolLM3ForCausalLM", "GraniteForCausalLM",
                 "Olmo2ForCausalLM", "Qwen2MoeForCausalLM", "GraniteMoeForCausalLM", "StableLmForCausalLM",
                 "Starcoder2ForCausalLM", "PhiForCausalLM", "GPTNeoXForCausalLM", "GlmForCausalLM",
                 "Glm4ForCausalLM", "CohereForCausalLM", "GPT2LMHeadModel", "OlmoeForCausalLM",
                 "Ernie4_5ForCausalLM", "Exaone4ForCausalLM", "SeedOssForCausalLM", "Olmo3ForCausalLM",
                 "HeliumForCausalLM", "Glm4MoeForCausalLM", "Ernie4_5_MoeForCausalLM", "Dots1ForCausalLM",
                 "PhimoeForCausalLM", "DeepseekV3ForCausalLM", "Cohere2ForCausalLM", "ArceeForCausalLM",
                 "NemotronForCausalLM")


def check_bias_tensors(w, cfg, arch, keys, attention, out, mlp):
    """The checkpoint's bias tensors are exactly those of the projections built with bias=True (q, k, v:
    `attention`; o_proj: `out`; the MLP's three: `mlp`): HF would leave missing ones random and ignore
    unexpected ones."""
    on = {"self_attn.q_proj": attention, "self_attn.k_proj": attention, "self_attn.v_proj": attention,
          "self_attn.o_proj": out, "mlp.gate_proj": mlp, "mlp.up_proj": mlp, "mlp.down_proj": mlp}
    want = {"model.layers.%d.%s.bias" % (n, m) for n in range(cfg["num_hidden_layers"]) for m in on if on[m]}
    if {n for n in w if n.endswith(".bias")} != want:
        raise ValueError("%s: the bias tensors disagree with %s" % (arch, keys))


def qkvo_attention(biases="", qk_norm=False):
    """The self_attn tensors of an attention with q/k/v/o_proj: their weights, the biases of the projections `biases`
    names ("qkv", "qkvo" or ""), q_norm / k_norm if `qk_norm`."""
    names = ["self_attn.%s_proj.weight" % t for t in "qkvo"] + ["self_attn.%s_proj.bias" % t for t in biases]
    return names + (["self_attn.q_norm.weight", "self_attn.k_norm.weight"] if qk_norm else [])


def mla_attention(cfg):
    """DeepseekV3Attention's tensors and their shapes, {name: shape}: q_proj (bias=False) with q_lora_rank null, else
    q_a_proj (bias=attention_bias), q_a_layernorm and q_b_proj (bias=False); kv_a_proj_with_mqa (bias=attention_bias),
    kv_a_layernorm, kv_b_proj (bias=False), o_proj (bias=attention_bias)."""
    C, H, rank, q_rank = cfg["hidden_size"], cfg["num_attention_heads"], cfg["kv_lora_rank"], cfg["q_lora_rank"]
    nope, rope, dv = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    out = {"self_attn.kv_a_proj_with_mqa.weight": (rank + rope, C), "self_attn.kv_a_layernorm.weight": (rank,),
           "self_attn.kv_b_proj.weight": (H * (nope + dv), rank), "self_attn.o_proj.weight": (C, H * dv)}
    if q_rank is None:
        out["self_attn.q_proj.weight"] = (H * (nope + rope), C)
    else:
        out.update({"self_attn.q_a_proj.weight": (q_rank, C), "self_attn.q_a_layernorm.weight": (q_rank,),
                    "self_attn.q_b_proj.weight": (H * (nope + rope), q_rank)})
    if cfg["attention_bias"]:
        out.update({"self_attn.kv_a_proj_with_mqa.bias": (rank + rope,), "self_attn.o_proj.bias": (C,)})
        if q_rank is not None:
            out["self_attn.q_a_proj.bias"] = (q_rank,)
    return out


def hf_names(w):
    """The names of `w` an HF class could load: all but the attention variants' own tensors (self_attn.moh_router.*,
    self_attn.alpha_proj.weight, self_attn.alpha_ma), which no transformers class has and which --moh / --affine read
    beside any architecture."""
    return {n for n in w if ".self_attn.moh_router." not in n and not n.endswith(("self_attn.alpha_proj.weight",
                                                                                   "self_attn.alpha_ma"))}


def check_moe_tensors(w, cfg, what, E, attention, mixture, correction_bias, shared):
    """Raises unless `w` holds exactly the tensors of a decoder whose MLP is a dense one or a mixture (HF would leave
    missing ones random and ignore unexpected ones): the embedding, the final norm, the lm_head unless tied; on each
    layer its two norms and its attention's `attention` (the self_attn.* names: projections, biases, norms); the
    mixture's router gate, its `correction_bias`, the E experts and (if `shared`) the shared experts where
    `mixture(n)`, else the dense mlp.*. One check for GLM-4.5's, dots.llm1's, DeepSeek-V3's and ERNIE 4.5's MoE, which
    differ only in those; `what` names the model in the error."""
    want = {"model.embed_tokens.weight", "model.norm.weight"}
    if not cfg["tie_word_embeddings"]:
        want.add("lm_head.weight")
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % n
        want |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
        want |= {p + a for a in attention}
        mlps = [p + "mlp."]
        if mixture(n):
            want |= {p + "mlp.gate.weight", p + correction_bias}
            mlps = [p + "mlp.experts.%d." % e for e in range(E)] + ([p + "mlp.shared_experts."] if shared else [])
        want |= {q + "%s_proj.weight" % t for q in mlps for t in ("gate", "up", "down")}
    if hf_names(w) != want:
        raise ValueError("%s: tensors the class does not load: %s; tensors it needs that are missing: %s"
                         % (what, sorted(hf_names(w) - want)[:5], sorted(want - hf_names(w))[:5]))


def sigmoid_moe_tensors(w, cfg, what, attention):
    """Glm4MoeForCausalLM's, Dots1ForCausalLM's or DeepseekV3ForCausalLM's tensors (`what` names the model): drops the
    multi-token-prediction layers (model.layers.N.* for num_hidden_layers <= N < num_hidden_layers +
    num_nextn_predict_layers; GLM-4.5's and DeepSeek-V3's, which the class ignores; dots.llm1 has none), and checks that
    the rest are exactly the tensors the class loads (HF would leave missing ones random and ignore unexpected ones):
    each layer's self_attn tensors `attention`, the mixture from first_k_dense_replace on."""
    L, E = cfg["num_hidden_layers"], cfg["n_routed_experts"]
    mtp = range(L, L + cfg.get("num_nextn_predict_layers", 0))
    kept = {}
    for name, a in w.items():
        parts = name.split(".")
        if name.startswith("model.layers.") and int(parts[2]) >= L:
            if int(parts[2]) not in mtp:
                raise ValueError("%s: %s is past the last layer and the num_nextn_predict_layers MTP layers"
                                 % (what, name))
            continue
        kept[name] = a
    check_moe_tensors(kept, cfg, what, E, attention, lambda n: n >= cfg["first_k_dense_replace"],
                      "mlp.gate.e_score_correction_bias", True)
    return kept


def ernie4_5_moe_layer(cfg, n):
    """Ernie4_5_MoeDecoderLayer: an Ernie4_5_MoeSparseMoeBlock iff (n + 1) % moe_layer_interval == 0 and
    moe_layer_start_index <= n <= moe_layer_end_index (already resolved: -1 is num_hidden_layers - 1)."""
    return ((n + 1) % cfg["moe_layer_interval"] == 0
            and cfg["moe_layer_start_index"] <= n <= cfg["moe_layer_end_index"])


def ernie4_5_moe_tensors(w, cfg):
    """Ernie4_5_MoeForCausalLM's tensors: drops every tensor whose name contains "mtp"
    (_keys_to_ignore_on_load_unexpected ["mtp"]: the multi-token-prediction layer, which the class ignores), and checks
    that the rest are exactly the tensors the class loads (HF would leave missing ones random and ignore unexpected
    ones), the correction bias [1, E]."""
    E = cfg["moe_num_experts"]
    kept = {name: a for name, a in w.items() if "mtp" not in name}
    check_moe_tensors(kept, cfg, "ERNIE 4.5 MoE", E, qkvo_attention(), lambda n: ernie4_5_moe_layer(cfg, n),
                      "mlp.moe_statics.e_score_correction_bias", cfg["moe_num_shared_experts"] > 0)
    bad = [name for name, a in kept.items()
           if name.endswith(".moe_statics.e_score_correction_bias") and a.shape != (1, E)]
    if bad:
        raise ValueError("ERNIE 4.5 MoE: %s is not [1, %d] (Ernie4_5_MoeStatics)" % (bad[0], E))
    return kept


def phimoe_tensors(w, cfg):
    """PhimoeForCausalLM's tensors: checks that they are exactly those the class loads (HF would leave missing ones
    random and ignore unexpected ones): nn.LayerNorms with weight and bias, q/k/v/o_proj biases with attention_bias, the
    router block_sparse_moe.gate and the experts' w1 / w2 / w3 on every layer, the lm_head's bias with lm_head_bias."""
    L, E = cfg["num_hidden_layers"], cfg["num_local_experts"]
    want = {"model.embed_tokens.weight", "model.norm.weight", "model.norm.bias"}
    if not cfg["tie_word_embeddings"]:
        want.add("lm_head.weight")
    if cfg["lm_head_bias"]:
        want.add("lm_head.bias")
    for n in range(L):
        p = "model.layers.%d." % n
        want |= {p + "%s.%s" % (norm, t) for norm in ("input_layernorm", "post_attention_layernorm")
                 for t in ("weight", "bias")}
        want |= {p + "self_attn.%s_proj.weight" % t for t in "qkvo"}
        if cfg["attention_bias"]:
            want |= {p + "self_attn.%s_proj.bias" % t for t in "qkvo"}
        want.add(p + "block_sparse_moe.gate.weight")
        want |= {p + "block_sparse_moe.experts.%d.%s.weight" % (e, t) for e in range(E) for t in ("w1", "w2", "w3")}
    if hf_names(w) != want:
        raise ValueError("Phi-3.5-MoE: tensors the class does not load: %s; tensors it needs that are missing: %s"
                         % (sorted(hf_names(w) - want)[:5], sorted(want - hf_names(w))[:5]))
    return w


def arcee_tensors(w, cfg):
    """ArceeForCausalLM's tensors: checks that they are exactly those the class loads (HF would leave missing ones
    random and ignore unexpected ones, a Llama checkpoint's mlp.gate_proj among them): q/k/v/o_proj with
    bias=attention_bias, ArceeMLP's up_proj and down_proj (no gate) with bias=mlp_bias, the lm_head unless tied."""
    want = {"model.embed_tokens.weight", "model.norm.weight"}
    if not cfg["tie_word_embeddings"]:
        want.add("lm_head.weight")
    mlp = ["mlp.%s_proj.weight" % t for t in ("up", "down")]
    if cfg["mlp_bias"]:
        mlp += ["mlp.%s_proj.bias" % t for t in ("up", "down")]
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % n
        want |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
        want |= {p + a for a in qkvo_attention("qkvo" if cfg["attention_bias"] else "") + mlp}
    if hf_names(w) != want:
        raise ValueError("Arcee: tensors the class does not load: %s; tensors it needs that are missing: %s"
                         % (sorted(hf_names(w) - want)[:5], sorted(want - hf_names(w))[:5]))
    return w


def nemotron_tensors(w, cfg):
    """NemotronForCausalLM's tensors: checks that they are exactly those the class loads (HF would leave missing ones
    random and ignore unexpected ones): NemotronLayerNorm1P's weight and bias for input_layernorm,
    post_attention_layernorm and model.norm, q/k/v/o_proj with bias=attention_bias, NemotronMLP's up_proj and down_proj
    (no gate) with bias=mlp_bias, the lm_head unless tied."""
    want = {"model.embed_tokens.weight", "model.norm.weight", "model.norm.bias"}
    if not cfg["tie_word_embeddings"]:
        want.add("lm_head.weight")
    mlp = ["mlp.%s_proj.weight" % t for t in ("up", "down")]
    if cfg["mlp_bias"]:
        mlp += ["mlp.%s_proj.bias" % t for t in ("up", "down")]
    norms = ["%s.%s" % (norm, t) for norm in ("input_layernorm", "post_attention_layernorm")
             for t in ("weight", "bias")]
    for n in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % n
        want |= {p + a for a in norms + qkvo_attention("qkvo" if cfg["attention_bias"] else "") + mlp}
    if hf_names(w) != want:
        raise ValueError("Nemotron: tensors the class does not load: %s; tensors it needs that are missing: %s"
                         % (sorted(hf_names(w) - want)[:5], sorted(want - hf_names(w))[:5]))
    return w


def sparsemixer(logits, eps):
    """SparseMixer's inference routing of one token's router logits [E] (transformers' sparsemixer, training=False):
    ((t1, t2), (w1, w2)). t1 = the best expert (ties to the lower), w1 = the softmax at t1 of the logits with every
    expert e set to -inf where (l[t1] - l[e]) / max(|l[e]|, l[t1]) > 2 eps; t2 = the best with t1 set to -inf, w2 = the
    softmax at t2 of those logits with e set to -inf where (l[t2] - l[e]) / max(|l[e]|, l[t2]) > 2 eps (the factor
    from the logits with t1 in them). A 0 / 0 (NaN) masks nothing, as the comparison is false."""
    chosen, weights = [], []
    scores = np.asarray(logits, dtype=np.float64)
    for _ in range(2):
        top = int(np.argmax(scores))
        best = scores[top]
        with np.errstate(divide="ignore", invalid="ignore"):
            masked = (best - logits) / np.maximum(np.abs(logits), best) > 2 * eps
        gates = np.where(masked, -np.inf, scores)
        e = np.exp(gates - best)
        chosen.append(top)
        weights.append(e[top] / e.sum())
        scores = np.where(np.arange(len(scores)) == top, -np.inf, scores)
    return tuple(chosen), tuple(weights)


class Model:
    """The forward pass. Each architecture feature is an attribute set from the config (so that a test
    can switch one off): windows, scale, attn_softcap, final_softcap, sandwich, unit_offset ((1 + w): Gemma's RMSNorms,
    Nemotron's LayerNorms), layer_norm, embed_scale, qk_norm, qk_head_norm, qk_norm_projection, post_norms, inv_freq /
    attention_scaling (RoPE), interleaved_rope (also DeepSeek-V3's rope_interleave), local_rope (Gemma 3's sliding
    layers), long_rope (longrope's long factors and their multiplier past the original length), rope_layers, act,
    gated_mlp (false: Arcee's and Nemotron's MLP without a gate), moe ("gptoss", "mixtral", "qwen3moe" (also OLMoE's),
    "qwen2moe", "granitemoe", "glm4moe" (also dots.llm1's and DeepSeek-V3's), "ernie4_5moe", "phimoe" or None),
    moe_renormalize, masked_group_score and weights_with_correction (GLM-4.5 MoE's, dots.llm1's, DeepSeek-V3's and ERNIE
    4.5 MoE's routing)."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        arch = cfg["architectures"][0]
        self.w = load_weights(model_dir)
        if arch in ("Gemma3ForConditionalGeneration", "Mistral3ForConditionalGeneration"):
            text = dict(cfg["text_config"])
            text.setdefault("torch_dtype", cfg.get("torch_dtype", "float32"))
            cfg = text
            arch = "Gemma3ForCausalLM" if arch.startswith("Gemma3") else "MistralForCausalLM"
            layouts = ((("language_model.model.", "model."), ("language_model.lm_head.", "lm_head.")),
                       (("model.language_model.", "model."), ("lm_head.", "lm_head.")))
            for layout in layouts:
                if layout[0][0] + "embed_tokens.weight" in self.w:
                    self.w = {to + n[len(frm):]: a for n, a in self.w.items()
                              for frm, to in layout if n.startswith(frm)}
                    break
            else:
                raise ValueError("no language model tensors in this Gemma3ForConditionalGeneration checkpoint")
        if arch == "GPTNeoXForCausalLM":
            # GPTNeoXForCausalLM's module paths, read under Llama's names.
            renames = (("gpt_neox.embed_in.", "model.embed_tokens."), ("gpt_neox.final_layer_norm.", "model.norm."),
                       ("gpt_neox.layers.", "model.layers."), ("embed_out.", "lm_head."))
            self.w = {next((to + n[len(frm):] for frm, to in renames if n.startswith(frm)), n): a
                      for n, a in self.w.items()}
            cfg.setdefault("partial_rotary_factor", cfg.get("rotary_pct", 0.25))
            cfg.setdefault("rope_theta", cfg.get("rotary_emb_base", 10000.0))
            cfg.setdefault("hidden_act", "gelu")
        if arch not in ARCHITECTURES:
            raise NotImplementedError(arch)
        self.arch = arch
        gemma3 = arch == "Gemma3ForCausalLM"
        gemma1 = arch == "GemmaForCausalLM"
        gemma = gemma1 or arch == "Gemma2ForCausalLM" or gemma3
        self.gptoss = arch == "GptOssForCausalLM"
        # Class defaults that differ from the generic ones.
        if gemma:
            cfg.setdefault("head_dim", 256)
            cfg.setdefault("rms_norm_eps", 1e-6)
            cfg.setdefault("tie_word_embeddings", True)
        if arch == "Starcoder2ForCausalLM":
            cfg.setdefault("tie_word_embeddings", True)
        if arch == "StableLmForCausalLM":
            cfg.setdefault("partial_rotary_factor", 0.25)
        if arch == "PhiForCausalLM":
            cfg.setdefault("partial_rotary_factor", 0.5)
            cfg.setdefault("hidden_act", "gelu_new")
        if arch == "Glm4ForCausalLM":
            # Glm4DecoderLayer's norms under the names of the sandwich below.
            renames = {"post_attention_layernorm": "pre_feedforward_layernorm",
                       "post_self_attn_layernorm": "post_attention_layernorm",
                       "post_mlp_layernorm": "post_feedforward_layernorm"}
            self.w = {".".join(renames.get(part, part) for part in n.split(".")): a for n, a in self.w.items()}
        if arch == "CohereForCausalLM":
            cfg.setdefault("tie_word_embeddings", True)
        if arch == "Cohere2ForCausalLM":
            # Cohere2Config's defaults; its __post_init__ sets head_dim = hidden / heads whatever config.json says.
            for key, value in (("tie_word_embeddings", True), ("attention_bias", False), ("sliding_window", 4096)):
                cfg.setdefault(key, value)
            if cfg["sliding_window"] is None:
                # Cohere2Model builds the sliding-window mask in every forward, and create_sliding_window_causal_mask
                # raises without a window; Cohere2Attention would rotate no layer.
                raise NotImplementedError("Cohere2 with sliding_window null (transformers cannot build its "
                                          "sliding-window mask; no layer would slide or rotate)")
            cfg["head_dim"] = cfg["hidden_size"] // cfg["num_attention_heads"]
            # Cohere2Attention: bias=attention_bias on q, k, v and o_proj; CohereMLP: none.
            bias = cfg["attention_bias"]
            check_bias_tensors(self.w, cfg, "Cohere2", "attention_bias", bias, bias, False)
        if arch == "Glm4MoeForCausalLM":
            # Glm4MoeConfig's defaults (head_dim: getattr(config, "head_dim", hidden / heads), below).
            for key, value in (("partial_rotary_factor", 0.5), ("num_key_value_heads", 8), ("rms_norm_eps", 1e-5),
                               ("tie_word_embeddings", False), ("attention_bias", False), ("use_qk_norm", False),
                               ("num_experts_per_tok", 8), ("n_shared_experts", 1), ("n_routed_experts", 128),
                               ("routed_scaling_factor", 1.0), ("n_group", 1), ("topk_group", 1),
                               ("first_k_dense_replace", 1), ("norm_topk_prob", True)):
                cfg.setdefault(key, value)
            # Glm4MoeAttention: bias=attention_bias on q, k and v, never on o_proj.
            self.w = sigmoid_moe_tensors(self.w, cfg, "GLM-4.5 MoE", qkvo_attention(
                "qkv" if cfg["attention_bias"] else "", cfg["use_qk_norm"]))
        if arch == "Dots1ForCausalLM":
            # Dots1Config's defaults (no head_dim field: getattr(config, "head_dim", hidden / heads), below); it has
            # none for the expert counts (None: the class cannot be built).
            for key, value in (("num_key_value_heads", 32), ("rms_norm_eps", 1e-6), ("tie_word_embeddings", False),
                               ("attention_bias", False), ("n_group", 1), ("topk_group", 1),
                               ("first_k_dense_replace", 0), ("norm_topk_prob", False), ("routed_scaling_factor", 1.0),
                               ("sliding_window", 4096), ("max_window_layers", 62)):
                cfg.setdefault(key, value)
            for key in ("n_routed_experts", "num_experts_per_tok", "n_shared_experts"):
                if cfg.get(key) is None:
                    raise ValueError("dots.llm1: %s must be given (Dots1Config has no default)" % key)
            # Dots1Attention (Qwen3Attention): bias=attention_bias on q, k, v and o_proj; q_norm / k_norm always.
            self.w = sigmoid_moe_tensors(self.w, cfg, "dots.llm1", qkvo_attention(
                "qkvo" if cfg["attention_bias"] else "", True))
        if arch == "DeepseekV3ForCausalLM":
            # DeepseekV3Config's defaults (DeepSeek-V3's sizes; num_key_value_heads null: the head count).
            for key, value in (("num_key_value_heads", 128), ("rms_norm_eps", 1e-6), ("tie_word_embeddings", False),
                               ("attention_bias", False), ("q_lora_rank", 1536), ("kv_lora_rank", 512),
                               ("qk_nope_head_dim", 128), ("qk_rope_head_dim", 64), ("v_head_dim", 128),
                               ("rope_interleave", True), ("n_routed_experts", 256), ("num_experts_per_tok", 8),
                               ("n_group", 8), ("topk_group", 4), ("n_shared_experts", 1),
                               ("routed_scaling_factor", 2.5), ("first_k_dense_replace", 3), ("norm_topk_prob", True)):
                cfg.setdefault(key, value)
            if cfg["num_key_value_heads"] is None:
                cfg["num_key_value_heads"] = cfg["num_attention_heads"]
            if cfg["num_key_value_heads"] != cfg["num_attention_heads"]:
                # kv_b_proj gives every query head its own key and value; DeepseekV3Attention's repeat_kv by heads /
                # num_key_value_heads would then make too many (or none), and the class fails.
                raise NotImplementedError("DeepSeek-V3 with num_key_value_heads %d != num_attention_heads %d"
                                          % (cfg["num_key_value_heads"], cfg["num_attention_heads"]))
            # DeepseekV3Config sets head_dim = qk_rope_head_dim, the dims its rotary embedding covers; a head_dim or a
            # partial_rotary_factor in config.json would change them and break apply_rotary_pos_emb's shapes.
            if cfg.get("head_dim") not in (None, cfg["qk_rope_head_dim"]):
                raise NotImplementedError("DeepSeek-V3 with head_dim %s != qk_rope_head_dim %d"
                                          % (cfg["head_dim"], cfg["qk_rope_head_dim"]))
            if cfg.get("partial_rotary_factor", 1.0) != 1.0:
                raise NotImplementedError("DeepSeek-V3 with partial_rotary_factor")
            cfg["head_dim"] = cfg["qk_rope_head_dim"]
            shapes = mla_attention(cfg)
            self.w = sigmoid_moe_tensors(self.w, cfg, "DeepSeek-V3", list(shapes))
            for n in range(cfg["num_hidden_layers"]):
                for name, shape in shapes.items():
                    a = self.w["model.layers.%d.%s" % (n, name)]
                    if a.shape != shape:
                        raise ValueError("DeepSeek-V3: model.layers.%d.%s is %s, the config's sizes make it %s"
                                         % (n, name, list(a.shape), list(shape)))
        if arch == "PhimoeForCausalLM":
            # PhimoeConfig's defaults (no head_dim field: getattr(config, "head_dim", hidden / heads), below).
            for key, value in (("num_key_value_heads", 8), ("rope_theta", 1e6), ("rms_norm_eps", 1e-5),
                               ("tie_word_embeddings", False), ("attention_bias", False), ("lm_head_bias", False),
                               ("num_local_experts", 16), ("num_experts_per_tok", 2), ("router_jitter_noise", 0.01)):
                cfg.setdefault(key, value)
            if cfg["num_experts_per_tok"] != 2:
                raise NotImplementedError("Phi-3.5-MoE: SparseMixer routes to 2 experts, not %d"
                                          % cfg["num_experts_per_tok"])
            scaling = cfg.get("rope_scaling")
            if scaling is not None:
                # PhimoeConfig: rope_type from "type"; short_mscale and long_mscale must be numbers.
                if scaling.get("rope_type", scaling.get("type")) != "longrope":
                    raise NotImplementedError("Phi-3.5-MoE with rope_scaling other than longrope")
                for key in ("short_mscale", "long_mscale"):
                    if not isinstance(scaling.get(key), (int, float)):
                        raise ValueError("Phi-3.5-MoE: rope_scaling's %s must be a number" % key)
            self.w = phimoe_tensors(self.w, cfg)
        if arch == "ArceeForCausalLM":
            # ArceeConfig's defaults where they differ from the generic ones (relu2, not silu; rms_norm_eps 1e-5, not
            # 1e-6); head_dim and num_key_value_heads null are derived below, as LlamaConfig does.
            for key, value in (("hidden_act", "relu2"), ("rms_norm_eps", 1e-5), ("tie_word_embeddings", False),
                               ("attention_bias", False), ("mlp_bias", False)):
                cfg.setdefault(key, value)
            self.w = arcee_tensors(self.w, cfg)
        if arch == "NemotronForCausalLM":
            # NemotronConfig's defaults where they differ from the generic ones (relu2, not silu; partial_rotary_factor
            # 0.5; its eps is norm_eps); head_dim null is derived below. NemotronConfig leaves num_key_value_heads null
            # when not given, and NemotronAttention's num_heads // num_key_value_heads then fails: refused.
            for key, value in (("hidden_act", "relu2"), ("norm_eps", 1e-5), ("partial_rotary_factor", 0.5),
                               ("tie_word_embeddings", False), ("attention_bias", False), ("mlp_bias", False)):
                cfg.setdefault(key, value)
            if cfg.get("num_key_value_heads") is None:
                raise ValueError("Nemotron: num_key_value_heads must be given (NemotronConfig has no default)")
            # NemotronRotaryEmbedding: rope_type "default" whatever rope_scaling says.
            cfg["rope_scaling"] = None
            self.w = nemotron_tensors(self.w, cfg)
        if arch == "OlmoeForCausalLM":
            cfg.setdefault("rms_norm_eps", 1e-5)
            if cfg.get("clip_qkv") is not None:
                raise NotImplementedError("OLMoE with clip_qkv")
        if arch == "Ernie4_5ForCausalLM":
            # Ernie4_5Config: head_dim 128 (null: hidden / heads, below), 2 kv heads whatever the head count.
            cfg.setdefault("head_dim", 128)
            cfg.setdefault("num_key_value_heads", 2)
            cfg.setdefault("rope_theta", 500000.0)
            cfg.setdefault("rms_norm_eps", 1e-5)
            cfg.setdefault("tie_word_embeddings", True)
            use_bias = cfg.get("use_bias", False)   # bias=config.use_bias on all seven projections
            check_bias_tensors(self.w, cfg, "ERNIE 4.5", "use_bias", use_bias, use_bias, use_bias)
        if arch == "Ernie4_5_MoeForCausalLM":
            # Ernie4_5_MoeConfig's defaults (no head_dim field: getattr(config, "head_dim", hidden / heads), below), and
            # its moe_layer_end_index -1 resolved to num_hidden_layers - 1.
            for key, value in (("num_key_value_heads", 4), ("rope_theta", 500000.0), ("rms_norm_eps", 1e-5),
                               ("tie_word_embeddings", True), ("use_bias", False), ("moe_num_experts", 64),
                               ("moe_k", 6), ("moe_num_shared_experts", 2), ("moe_layer_start_index", 1),
                               ("moe_layer_end_index", -1), ("moe_layer_interval", 1), ("moe_norm_min", 1e-12)):
                cfg.setdefault(key, value)
            if cfg["moe_layer_end_index"] == -1:
                cfg["moe_layer_end_index"] = cfg["num_hidden_layers"] - 1
            if cfg["use_bias"]:
                # bias=config.use_bias on every projection, the experts' and the lm_head's included: not implemented.
                raise NotImplementedError("ERNIE 4.5 MoE with use_bias")
            self.w = ernie4_5_moe_tensors(self.w, cfg)
        if arch in ("Exaone4ForCausalLM", "Olmo3ForCausalLM"):
            cfg.setdefault("rms_norm_eps", 1e-5)
        if arch == "SeedOssForCausalLM":
            # SeedOssConfig: head_dim 128 (null: hidden / heads, below), 8 kv heads whatever the head count (null: the
            # head count, below); rms_norm_eps 1e-6, rope_theta 1e4 and untied embeddings are the generic defaults.
            cfg.setdefault("head_dim", 128)
            cfg.setdefault("num_key_value_heads", 8)
            # bias=attention_bias for q, k, v, bias=attention_out_bias for o_proj, bias=mlp_bias for the MLP.
            check_bias_tensors(self.w, cfg, "Seed-OSS", "attention_bias / attention_out_bias / mlp_bias",
                               cfg.get("attention_bias", True), cfg.get("attention_out_bias", False),
                               cfg.get("mlp_bias", False))
        if arch == "HeliumForCausalLM":
            # HeliumConfig: head_dim 128, 20 kv heads whatever the head count, rope_theta 1e5, rms_norm_eps 1e-8;
            # untied embeddings are the generic default.
            cfg.setdefault("head_dim", 128)
            cfg.setdefault("num_key_value_heads", 20)
            cfg.setdefault("rope_theta", 100000.0)
            cfg.setdefault("rms_norm_eps", 1e-8)
            if cfg["num_attention_heads"] * (cfg["head_dim"] or 0) != cfg["hidden_size"]:
                raise ValueError("Helium: o_proj is [hidden, hidden], so heads * head_dim must be hidden_size")
            # bias=attention_bias on q, k, v (none on o_proj), bias=mlp_bias on the MLP.
            check_bias_tensors(self.w, cfg, "Helium", "attention_bias / mlp_bias", cfg.get("attention_bias", False),
                               False, cfg.get("mlp_bias", False))
        if arch == "GPT2LMHeadModel":
            cfg, self.w = self._gpt2(cfg, self.w)
        if arch in ("GlmForCausalLM", "Glm4ForCausalLM"):
            cfg.setdefault("partial_rotary_factor", 0.5)
            cfg.setdefault("head_dim", 128)
            cfg.setdefault("num_key_value_heads", 2)
            cfg.setdefault("rms_norm_eps", 1.5625e-7)
        if gemma3:
            cfg.setdefault("rope_theta", 1e6)
        elif arch == "Qwen3ForCausalLM":
            cfg.setdefault("head_dim", 128)
        cfg.setdefault("rope_theta", 1e6 if arch == "MixtralForCausalLM" else 2e6 if arch == "SmolLM3ForCausalLM"
                       else 10000.0)
        if cfg.get("head_dim") is None:
            cfg["head_dim"] = cfg["hidden_size"] // cfg["num_attention_heads"]
        if cfg.get("num_key_value_heads") is None:
            cfg["num_key_value_heads"] = cfg["num_attention_heads"]
        self.cfg = cfg
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.Hkv = cfg["num_key_value_heads"]
        self.D = cfg["head_dim"]
        self.Dv = self.D                          # value heads
        # DeepSeek-V3's multi-head latent attention (mla_qkv): query and key heads of qk_nope_head_dim +
        # qk_rope_head_dim dims (RoPE over the last qk_rope_head_dim, which head_dim is), value heads of v_head_dim.
        self.mla = arch == "DeepseekV3ForCausalLM"
        if self.mla:
            self.D = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
            self.Dv = cfg["v_head_dim"]
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        # StableLM: nn.LayerNorm (weight and bias) wherever the others have RMSNorm.
        self.layer_norm = arch in ("StableLmForCausalLM", "Starcoder2ForCausalLM", "PhiForCausalLM",
                                   "GPTNeoXForCausalLM", "CohereForCausalLM", "GPT2LMHeadModel", "PhimoeForCausalLM",
                                   "Cohere2ForCausalLM", "NemotronForCausalLM")
        if self.layer_norm and arch != "PhimoeForCausalLM":     # Phi-3.5-MoE's LayerNorms take rms_norm_eps
            self.eps = cfg.get({"Starcoder2ForCausalLM": "norm_epsilon", "NemotronForCausalLM": "norm_eps"}.get(
                arch, "layer_norm_eps"), 1e-5)
        # Phi: attention and MLP side by side on one norm's output; its output projection is
        # self_attn.dense, its last norm model.final_layernorm, its lm_head has a bias.
        self.phi = arch == "PhiForCausalLM"
        # StableLM with use_parallel_residual: the same side-by-side form. GPT-NeoX's (by default) gives the
        # MLP its own norm, post_attention_layernorm of the same x.
        self.neox = arch == "GPTNeoXForCausalLM"
        self.parallel = (self.phi or (arch == "StableLmForCausalLM" and cfg.get("use_parallel_residual", False))
                         or (self.neox and cfg.get("use_parallel_residual", True))
                         or arch in ("CohereForCausalLM", "Cohere2ForCausalLM"))
        self.parallel_mlp_norm = self.neox
        # GLM, Cohere (1 and 2), ERNIE 4.5 (and its MoE) and Helium rotate adjacent pairs.
        self.interleaved_rope = arch in ("GlmForCausalLM", "Glm4ForCausalLM", "CohereForCausalLM",
                                         "Ernie4_5ForCausalLM", "HeliumForCausalLM", "Ernie4_5_MoeForCausalLM",
                                         "Cohere2ForCausalLM")
        if self.mla:
            # DeepSeek-V3's rope_interleave: de-interleaved, then rotate-half (mla_qkv).
            self.interleaved_rope = cfg["rope_interleave"]
        self.inv_freq, self.attention_scaling = rope_parameters(cfg)
        # longrope: (original_max_position_embeddings, inv_freq, attention_scaling) of the forwards whose sequence is
        # longer than the original length (rope_at); self.inv_freq / attention_scaling are the short ones.
        self.long_rope = None
        scaling = cfg.get("rope_scaling") or {}
        if scaling.get("rope_type", scaling.get("type")) == "longrope":
            original = longrope_original(cfg)
            self.long_rope = (original,) + rope_parameters(cfg, original + 1)
            if arch == "PhimoeForCausalLM":
                # PhimoeRotaryEmbedding: cos and sin times short_mscale / long_mscale, by the same length test.
                self.attention_scaling = scaling["short_mscale"]
                self.long_rope = (original, self.long_rope[1], scaling["long_mscale"])
        self.windows = self._windows()
        if arch == "Olmo3ForCausalLM" and any(w is not None for w in self.windows):
            # As xf's importer: some transformers releases scale the sliding layers' RoPE too, others leave it default.
            scaling = cfg.get("rope_scaling") or {}
            if scaling.get("rope_type", scaling.get("type", "default")) != "default":
                raise NotImplementedError("OLMo 3 with a scaled RoPE and sliding layers")
        # (inv_freq, attention_scaling) of the sliding layers where they differ: Gemma 3's default RoPE
        # with base rope_local_base_freq.
        self.local_rope = None
        self.sliding_layers = [w is not None for w in self.windows]   # the layer types
        # Layers that rotate queries and keys at all (SmolLM3's NoPE layers do not).
        self.rope_layers = [True] * self.L
        if arch == "GPT2LMHeadModel":
            self.rope_layers = [False] * self.L          # learned positions instead
        if arch == "SmolLM3ForCausalLM":
            interval = cfg.get("no_rope_layer_interval", 4)
            flags = cfg.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(self.L)]
            self.rope_layers = [bool(flags[i]) for i in range(self.L)]
        if ((arch == "Exaone4ForCausalLM" and cfg.get("sliding_window", 4096) is not None)
                or arch == "Cohere2ForCausalLM"):
            # Exaone4Attention: apply_rotary_pos_emb only `if self.sliding_window is None or self.is_sliding`;
            # Cohere2Attention only `if self.sliding_window is not None` (its window is never null here).
            self.rope_layers = list(self.sliding_layers)
        if gemma3:
            local = dict(cfg, rope_theta=cfg.get("rope_local_base_freq", 10000.0), rope_scaling=None)
            self.local_rope = rope_parameters(local)
        # (1 + w): Gemma's RMSNorms, Nemotron's LayerNorms (NemotronLayerNorm1P).
        self.unit_offset = gemma or arch == "NemotronForCausalLM"
        self.sandwich = (gemma and not gemma1) or arch == "Glm4ForCausalLM"
        self.qk_norm = (arch in ("Qwen3ForCausalLM", "Qwen3MoeForCausalLM", "Gemma3ForCausalLM", "Exaone4ForCausalLM",
                                 "Dots1ForCausalLM")
                        or (arch == "Glm4MoeForCausalLM" and cfg["use_qk_norm"]))
        # Cohere (use_qk_norm) and StableLM (qk_layernorm): a LayerNorm without bias over head_dim, each head
        # with its own gains.
        self.qk_head_norm = ((arch == "CohereForCausalLM" and cfg.get("use_qk_norm", False))
                             or (arch == "StableLmForCausalLM" and cfg.get("qk_layernorm", False)))
        # OLMo 2 (and EXAONE 4.0's and OLMo 3's Olmo2DecoderLayer): norms after each block only; OLMo 2's (and OLMo
        # 3's) q/k norms over each token's whole projections; OLMoE: those q/k norms in Llama's pre-norm blocks.
        self.post_norms = arch in ("Olmo2ForCausalLM", "Exaone4ForCausalLM", "Olmo3ForCausalLM")
        self.qk_norm_projection = arch in ("Olmo2ForCausalLM", "OlmoeForCausalLM", "Olmo3ForCausalLM")
        # OLMoE routes as Qwen3-MoE, with the same class defaults (top 8, norm_topk_prob false); dots.llm1 and
        # DeepSeek-V3 as GLM-4.5 MoE (DeepseekV3TopkRouter and DeepseekV3MoE).
        self.moe = ("gptoss" if self.gptoss else "mixtral" if arch == "MixtralForCausalLM"
                    else "qwen3moe" if arch in ("Qwen3MoeForCausalLM", "OlmoeForCausalLM")
                    else "qwen2moe" if arch == "Qwen2MoeForCausalLM"
                    else "granitemoe" if arch == "GraniteMoeForCausalLM"
                    else "glm4moe" if arch in ("Glm4MoeForCausalLM", "Dots1ForCausalLM", "DeepseekV3ForCausalLM")
                    else "ernie4_5moe" if arch == "Ernie4_5_MoeForCausalLM"
                    else "phimoe" if arch == "PhimoeForCausalLM" else None)
        self.shared_gate = True                   # Qwen2-MoE's sigmoid gate of the shared expert
        self.moe_renormalize = True
        # GLM-4.5 MoE and dots.llm1 (test switches): the choice score of the experts outside the kept groups
        # (masked_fill 0.0), and whether the chosen experts' weights include the correction bias (they do not; ERNIE 4.5
        # MoE's neither).
        self.masked_group_score = 0.0
        self.weights_with_correction = False
        self.kv_dtype = "f32"                     # "bf16" / "f16": round cached keys and values
        # Attention variants no Hugging Face class has (options only, never from config.json): moh (shared, top_k) for
        # Mixture-of-Heads gates, affine "clip" / "sigmoid" for affine-scaled softmax weights; None: off.
        self.moh = None
        self.affine = None
        self.int8 = False                         # --dot int8: quantized projections (int8_values)
        self.int8_cache = {}
        if gemma:
            if gemma1:
                self.scale = self.D ** -0.5
                self.attn_softcap = self.final_softcap = None
            else:
                self.scale = cfg.get("query_pre_attn_scalar", 256) ** -0.5
                self.attn_softcap = cfg.get("attn_logit_softcapping", None if gemma3 else 50.0)
                self.final_softcap = cfg.get("final_logit_softcapping", None if gemma3 else 30.0)
            self.embed_scale = round_to_dtype(math.sqrt(cfg["hidden_size"]), cfg.get("torch_dtype", "float32"))
            # GemmaMLP reads hidden_activation (gelu_pytorch_tanh if unset); hidden_act is a legacy field.
            act = cfg.get("hidden_activation") or "gelu_pytorch_tanh"
        else:
            self.scale = self.D ** -0.5
            self.attn_softcap = self.final_softcap = None
            self.embed_scale = 1.0
            act = cfg.get("hidden_act", "silu")
        if act not in ACTIVATIONS:
            raise NotImplementedError("hidden_act %r" % act)
        self.act = ACTIVATIONS[act]
        # The dense MLP's form: act(gate x) * up x, or Arcee's (and Nemotron's) down(act(up x)) without a gate.
        self.gated_mlp = arch not in ("ArceeForCausalLM", "NemotronForCausalLM")
        # Granite: multipliers of the embeddings, of each block's output before its residual add, the score
        # scale itself, and a divisor of the logits.
        self.residual_scale = 1.0
        self.logit_scale = 1.0
        if arch == "GPT2LMHeadModel" and not cfg.get("scale_attn_weights", True):
            self.scale = 1.0
        if arch in ("GraniteForCausalLM", "GraniteMoeForCausalLM"):
            self.embed_scale = cfg.get("embedding_multiplier", 1.0)
            self.residual_scale = cfg.get("residual_multiplier", 1.0)
            self.scale = cfg.get("attention_multiplier", 1.0)
            self.logit_scale = 1.0 / cfg.get("logits_scaling", 1.0)
        if arch in ("CohereForCausalLM", "Cohere2ForCausalLM"):
            self.logit_scale = cfg.get("logit_scale", 0.0625)
        if self.mla:
            # DeepseekV3Attention: scores times (qk_nope_head_dim + qk_rope_head_dim)^-0.5 (self.D's), and with a scaled
            # RoPE (rope type not default) and a nonzero mscale_all_dim also times yarn_get_mscale(factor,
            # mscale_all_dim)^2.
            scaling = cfg.get("rope_scaling") or {}
            if scaling.get("rope_type", scaling.get("type", "default")) != "default" and scaling.get("mscale_all_dim"):
                self.scale *= yarn_mscale(scaling["factor"], scaling["mscale_all_dim"]) ** 2
        if cfg.get("tie_word_embeddings", False):
            self.lm_head = self.w["model.embed_tokens.weight"]
        else:
            self.lm_head = self.w["lm_head.weight"]

    @staticmethod
    def _gpt2(cfg, w):
        """GPT-2's config and tensors under the Llama names this class reads: its own config names mapped,
        Conv1D weights [in, out] transposed to nn.Linear's [out, in], c_attn split into q, k and v, the
        masks dropped."""
        H = cfg["n_embd"]
        cfg = dict(cfg, hidden_size=H, num_attention_heads=cfg["n_head"], num_hidden_layers=cfg["n_layer"],
                   max_position_embeddings=cfg["n_positions"], intermediate_size=cfg.get("n_inner") or 4 * H,
                   hidden_act=cfg.get("activation_function", "gelu_new"),
                   layer_norm_eps=cfg.get("layer_norm_epsilon", 1e-5))
        cfg.setdefault("tie_word_embeddings", True)
        base = "transformer." if "transformer.wte.weight" in w else ""
        out = {}
        for name, a in w.items():
            if name == "lm_head.weight":                          # untied (tie_word_embeddings false)
                out[name] = a
                continue
            if not name.startswith(base):
                continue
            name = name[len(base):]
            if name.startswith("h."):
                _, n, rest = name.split(".", 2)
                if rest in ("attn.bias", "attn.masked_bias"):      # the causal mask and its fill value
                    continue
                p = "model.layers.%s." % n
                if rest == "attn.c_attn.weight":
                    for t, part in zip("qkv", np.split(a.T, 3, axis=0)):
                        out[p + "self_attn.%s_proj.weight" % t] = part
                elif rest == "attn.c_attn.bias":
                    for t, part in zip("qkv", np.split(a, 3)):
                        out[p + "self_attn.%s_proj.bias" % t] = part
                else:
                    rest = (rest.replace("ln_1.", "input_layernorm.").replace("ln_2.", "post_attention_layernorm.")
                            .replace("attn.c_proj.", "self_attn.o_proj."))
                    out[p + rest] = a.T if rest.endswith("proj.weight") or rest.endswith("c_fc.weight") else a
            else:
                out[{"wte.weight": "model.embed_tokens.weight", "wpe.weight": "model.embed_positions.weight",
                     "ln_f.weight": "model.norm.weight", "ln_f.bias": "model.norm.bias"}[name]] = a
        return cfg, out

    def _windows(self):
        """The window of each layer, None for full attention."""
        cfg, arch, L = self.cfg, self.arch, self.L
        if arch in ("MistralForCausalLM", "MixtralForCausalLM", "Phi3ForCausalLM", "Starcoder2ForCausalLM"):
            return [cfg.get("sliding_window", 4096 if arch == "MistralForCausalLM" else None)] * L
        if arch == "Exaone4ForCausalLM":
            # Exaone4Config: sliding_window null sets the pattern to 0 and nothing slides (the attention passes
            # sliding_window=None); otherwise layer_types, by default from the pattern.
            window = cfg.get("sliding_window", 4096)
            if window is None:
                return [None] * L
            types = cfg.get("layer_types")
            if types is None:
                pattern = cfg.get("sliding_window_pattern", 4)
                if not isinstance(pattern, int):
                    raise ValueError("EXAONE 4.0: sliding_window_pattern %r without layer_types" % (pattern,))
                types = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(L)]
            return [window if t == "sliding_attention" else None for t in types]
        if arch == "Cohere2ForCausalLM":
            # Cohere2Config: layer_types, by default sliding unless (i + 1) % sliding_window_pattern == 0 (the pattern
            # is ignored beside them); Cohere2Attention: sliding_window on the sliding layers.
            types = cfg.get("layer_types")
            if types is None:
                pattern = cfg.get("sliding_window_pattern", 4)
                if not isinstance(pattern, int) or isinstance(pattern, bool) or pattern < 1:
                    raise ValueError("Cohere2: sliding_window_pattern %r without layer_types" % (pattern,))
                types = ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(L)]
            if len(types) != L or not set(types) <= {"sliding_attention", "full_attention"}:
                raise ValueError("Cohere2: layer_types must list %d of sliding_attention / full_attention, got %r"
                                 % (L, types))
            return [cfg["sliding_window"] if t == "sliding_attention" else None for t in types]
        if arch == "Olmo3ForCausalLM":
            # Olmo3Config: layer_types, by default sliding unless (i + 1) % 4 == 0; Olmo3Attention: sliding_window on
            # the sliding layers (null: none).
            window = cfg.get("sliding_window", 4096)
            types = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % 4 else "full_attention"
                                               for i in range(L)]
            return [window if t == "sliding_attention" else None for t in types]
        if arch == "Gemma3ForCausalLM":
            window = cfg.get("sliding_window", 4096)
            pattern = cfg.get("sliding_window_pattern", 6)
            types = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                               for i in range(L)]
            return [window if t == "sliding_attention" else None for t in types]
        if arch in ("GptOssForCausalLM", "Gemma2ForCausalLM"):
            default = 4096 if arch == "Gemma2ForCausalLM" else 128
            window = cfg.get("sliding_window", default)
            types = cfg.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention"
                                               for i in range(L)]
            return [window if t == "sliding_attention" else None for t in types]
        if arch in ("Qwen3MoeForCausalLM", "Qwen2MoeForCausalLM"):
            if cfg.get("use_sliding_window", False) and cfg.get("sliding_window") is not None:
                raise NotImplementedError("Qwen-MoE with a sliding window")
            return [None] * L
        if arch == "Dots1ForCausalLM":
            # Dots1Config: layer_types, by default "sliding_attention" iff sliding_window is not None and i >=
            # max_window_layers (no use_sliding_window); Dots1Attention: sliding_window on the sliding layers.
            window = cfg["sliding_window"]
            first = cfg["max_window_layers"]
            types = cfg.get("layer_types") or ["sliding_attention" if window is not None and i >= first
                                               else "full_attention" for i in range(L)]
            return [window if t == "sliding_attention" else None for t in types]
        if arch in ("Qwen2ForCausalLM", "Qwen3ForCausalLM"):
            window = cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window", False) else None
            first = cfg.get("max_window_layers", 28)
            types = cfg.get("layer_types") or ["sliding_attention" if window is not None and i >= first
                                               else "full_attention" for i in range(L)]
            return [window if t == "sliding_attention" else None for t in types]
        return [None] * L

    def new_cache(self):
        return [[np.zeros((self.Hkv, 0, self.D)), np.zeros((self.Hkv, 0, self.Dv))] for _ in range(self.L)]

    def rope_at(self, length):
        """(inv_freq, attention_scaling) of a forward whose sequence is `length` tokens long (its largest position + 1,
        HF's torch.max(position_ids) + 1): longrope's long ones past the original length, else the others."""
        if self.long_rope is not None and length > self.long_rope[0]:
            return self.long_rope[1:]
        return self.inv_freq, self.attention_scaling

    def int8_weight(self, name, w):
        """w [..., out, in] as --dot int8 multiplies it (rows quantized once), or w itself without --dot int8."""
        if not self.int8 or name in FROM_MXFP4:
            return w
        if name not in self.int8_cache:
            self.int8_cache[name] = int8_values(w)
        return self.int8_cache[name]

    def int8_t(self, name, w):
        """The same for w [..., in, out] (gpt-oss's experts): quantized per output column."""
        if not self.int8 or name in FROM_MXFP4:
            return w
        if name not in self.int8_cache:
            self.int8_cache[name] = np.swapaxes(int8_values(np.swapaxes(w, -1, -2)), -1, -2)
        return self.int8_cache[name]

    def int8_input(self, x, name=""):
        return int8_values(x) if self.int8 and name not in FROM_MXFP4 else x

    def linear(self, x, name):
        # --dot int8 quantizes every projection but the MoE routers and Qwen2-MoE's shared-expert gate.
        router = name.endswith((".gate", ".router", "router.layer", "shared_expert_gate"))
        if router:
            y = x @ self.w[name + ".weight"].T
        else:
            y = self.int8_input(x) @ self.int8_weight(name + ".weight", self.w[name + ".weight"]).T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def norm(self, x, name):
        if self.layer_norm:
            mean = x.mean(axis=-1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
            weight = self.w[name + ".weight"]
            # Nemotron's NemotronLayerNorm1P: F.layer_norm with weight + 1.
            y = (x - mean) / np.sqrt(var + self.eps) * (1.0 + weight if self.unit_offset else weight)
            # Cohere's (and Cohere 2's) has no bias.
            return y if self.arch in ("CohereForCausalLM", "Cohere2ForCausalLM") else y + self.w[name + ".bias"]
        return rms_norm(x, self.w[name + ".weight"], self.eps, self.unit_offset)

    def head_layer_norm(self, x, p, which):
        """x [S, heads, D]: (x - mean) / sqrt(var + eps) over head_dim, times head h's gains, no bias; the
        gains [heads, D] from Cohere's self_attn.{q,k}_norm.weight or StableLM's
        self_attn.{q,k}_layernorm.norms.h.weight."""
        if self.arch == "CohereForCausalLM":
            gains = self.w[p + which + "_norm.weight"]
        else:
            gains = np.stack([self.w[p + "%s_layernorm.norms.%d.weight" % (which, h)] for h in range(x.shape[1])])
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * gains

    def variant_weight(self, name, option, shape):
        """Tensor `name` of an attention variant, checked against `shape`; a clear error where it is missing."""
        if name not in self.w:
            raise ValueError("%s needs tensor %s, which the checkpoint does not hold" % (option, name))
        a = self.w[name]
        if a.shape != shape:
            raise ValueError("%s: %s is %s, expected %s" % (option, name, list(a.shape), list(shape)))
        return a

    def moh_gates(self, p, x):
        """Mixture-of-Heads gates [S, H] of the tokens x [S, hidden]: shared heads 0..hs-1, routed hs..H-1."""
        hs, k = self.moh
        H, C = self.H, x.shape[-1]
        if not 0 <= hs < H or not 1 <= k <= H - hs:
            raise ValueError("--moh %d,%d: need 0 <= SHARED < %d and 1 <= TOPK <= %d - SHARED" % (hs, k, H, H))
        q = p + "moh_router."
        w_routed = self.variant_weight(q + "w_routed", "--moh", (H - hs, C))
        # No shared heads: nothing reads w_shared, so a checkpoint may leave the empty tensor out.
        w_shared = (np.zeros((0, C)) if hs == 0 and q + "w_shared" not in self.w
                    else self.variant_weight(q + "w_shared", "--moh", (hs, C)))
        w_head = self.variant_weight(q + "w_head", "--moh", (2, C))

        def softmax(z):
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        g_r = softmax(x @ w_routed.T)                                       # [S, H - hs]
        mask = np.zeros_like(g_r)
        for t in range(x.shape[0]):
            mask[t, np.argsort(-g_r[t], kind="stable")[:k]] = 1.0           # ties: the lower head
        kept = g_r * mask
        g_r = k * kept / np.maximum(kept.sum(axis=-1, keepdims=True), 1e-6)
        g_s = hs * softmax(x @ w_shared.T) if hs else np.zeros((x.shape[0], 0))
        a = 2.0 * softmax(x @ w_head.T)                                     # [S, 2]
        return np.concatenate([a[:, :1] * g_s, a[:, 1:] * g_r], axis=-1)

    def affine_alpha(self, p, x):
        """(alpha [S, H], alpha_ma [H]) of the tokens x [S, hidden]."""
        pre = x @ self.variant_weight(p + "alpha_proj.weight", "--affine", (self.H, x.shape[-1])).T
        alpha_ma = self.variant_weight(p + "alpha_ma", "--affine", (self.H,))
        if self.affine == "clip":
            alpha = np.minimum(np.maximum(0.1 * pre + 0.5, 0.0), 1.0)
        elif self.affine == "sigmoid":
            alpha = sigmoid(pre)
        else:
            raise ValueError("--affine must be clip or sigmoid, got %r" % (self.affine,))
        return alpha, alpha_ma

    def qkv(self, n, x, positions):
        """Layer n's queries [H, S, D], keys and values [Hkv, S, D] of the tokens x at `positions`: the projections, the
        q/k norms, RoPE."""
        p = "model.layers.%d.self_attn." % n
        S, H, Hkv, D = x.shape[0], self.H, self.Hkv, self.D
        neox = "model.layers.%d.attention." % n
        if neox + "query_key_value.weight" in self.w:          # GPT-NeoX: [head][q | k | v][dim] rows
            qkv = self.linear(x, neox + "query_key_value").reshape(S, H, 3, D)
            q, k, v = (qkv[:, :, i].reshape(S, H * D) for i in range(3))
        elif p + "qkv_proj.weight" in self.w:                  # Phi-3: [q; k; v] rows
            qkv = self.linear(x, p + "qkv_proj")
            q, k, v = qkv[:, :H * D], qkv[:, H * D:(H + Hkv) * D], qkv[:, (H + Hkv) * D:]
        else:
            q = self.linear(x, p + "q_proj")
            k = self.linear(x, p + "k_proj")
            v = self.linear(x, p + "v_proj")
        if self.qk_norm_projection:                              # OLMo 2, OLMoE: the whole projections
            q = self.norm(q, p + "q_norm")
            k = self.norm(k, p + "k_norm")
        q = q.reshape(S, H, D)
        k = k.reshape(S, Hkv, D)
        v = v.reshape(S, Hkv, D).transpose(1, 0, 2)
        if self.qk_norm:                                         # Qwen 3: per head, before RoPE
            q = self.norm(q, p + "q_norm")
            k = self.norm(k, p + "k_norm")
        if self.qk_head_norm:                                    # Cohere / StableLM: each head's own gains
            q = self.head_layer_norm(q, p, "q")
            k = self.head_layer_norm(k, p, "k")
        inv_freq, attention_scaling = (self.local_rope if self.local_rope is not None and self.sliding_layers[n]
                                       else self.rope_at(positions[-1] + 1))
        q, k = q.transpose(1, 0, 2), k.transpose(1, 0, 2)
        if self.rope_layers[n]:
            q = rotate(q, positions, inv_freq, attention_scaling, self.interleaved_rope)
            k = rotate(k, positions, inv_freq, attention_scaling, self.interleaved_rope)
        return q, k, v

    def mla_qkv(self, n, x, positions):
        """DeepseekV3Attention's queries and keys [H, S, nope + rope] and values [H, S, dv] (multi-head latent
        attention): q = q_b_proj(RMSNorm(q_a_proj x)) (q_proj x with q_lora_rank null); kv_a_proj_with_mqa x = [latent
        (kv_lora_rank), k_rot (rope)]; kv_b_proj(RMSNorm(latent)) = per head [k_pass (nope), value (dv)]; RoPE on each
        head's last qk_rope_head_dim query dims and on k_rot, one key for every head, after a de-interleave
        (rope_interleave, apply_rotary_pos_emb_interleave: (x0, x1, x2, x3, ...) -> (x0, x2, ..., x1, x3, ...)) and
        rotate-half; query [q_pass, q_rot], key [k_pass, k_rot]."""
        cfg, p = self.cfg, "model.layers.%d.self_attn." % n
        S, H = x.shape[0], self.H
        nope, rope, rank = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["kv_lora_rank"]
        if cfg["q_lora_rank"] is None:
            q = self.linear(x, p + "q_proj")
        else:
            q = self.linear(self.norm(self.linear(x, p + "q_a_proj"), p + "q_a_layernorm"), p + "q_b_proj")
        q = q.reshape(S, H, nope + rope).transpose(1, 0, 2)
        compressed = self.linear(x, p + "kv_a_proj_with_mqa")                   # [S, rank + rope]
        kv = self.linear(self.norm(compressed[:, :rank], p + "kv_a_layernorm"), p + "kv_b_proj")
        kv = kv.reshape(S, H, nope + self.Dv).transpose(1, 0, 2)
        q_rot, k_rot = q[..., nope:], compressed[None, :, rank:]               # k_rot [1, S, rope]
        if self.interleaved_rope:
            order = np.concatenate([np.arange(0, rope, 2), np.arange(1, rope, 2)])
            q_rot, k_rot = q_rot[..., order], k_rot[..., order]
        inv_freq, attention_scaling = self.rope_at(positions[-1] + 1)
        q_rot = rotate(q_rot, positions, inv_freq, attention_scaling)
        k_rot = rotate(k_rot, positions, inv_freq, attention_scaling)
        q = np.concatenate([q[..., :nope], q_rot], axis=-1)
        k = np.concatenate([kv[..., :nope], np.broadcast_to(k_rot, (H, S, rope))], axis=-1)
        return q, k, kv[..., nope:]

    def attention(self, n, x, positions, cache):
        p = "model.layers.%d.self_attn." % n
        S, H, Hkv = x.shape[0], self.H, self.Hkv
        neox = "model.layers.%d.attention." % n
        q, k, v = (self.mla_qkv if self.mla else self.qkv)(n, x, positions)
        if self.kv_dtype != "f32":                               # xfc --kv-dtype: a 16-bit cache
            # Latent attention too: xf caches each head's expanded keys and values, rounded element by element.
            k, v = round_array(k, self.kv_dtype), round_array(v, self.kv_dtype)
        cache[n][0] = np.concatenate([cache[n][0], k], axis=1)
        cache[n][1] = np.concatenate([cache[n][1], v], axis=1)
        K, V = cache[n]
        T = K.shape[1]                       # keys sit at positions 0..T-1
        key_pos = np.arange(T)
        visible = key_pos[None, :] <= positions[:, None]
        W = self.windows[n]
        if W is not None:
            visible &= key_pos[None, :] > positions[:, None] - W
        group = H // Hkv
        if self.affine is not None:
            alpha, alpha_ma = self.affine_alpha(p, x)
            # Mean of V over each query's visible keys (the softmax's mask).
            mean_weights = visible / visible.sum(axis=-1, keepdims=True)
        gates = self.moh_gates(p, x) if self.moh is not None else None
        out = np.empty((H, S, V.shape[-1]))
        for h in range(H):
            kv = h // group
            z = (q[h] @ K[kv].T) * self.scale                    # [S, T]
            if self.attn_softcap is not None:
                z = self.attn_softcap * np.tanh(z / self.attn_softcap)
            z = np.where(visible, z, -np.inf)
            if self.gptoss:
                s = self.w[p + "sinks"][h]
                m = np.maximum(z.max(axis=-1, keepdims=True), s)
                e = np.exp(z - m)
                P = e / (e.sum(axis=-1, keepdims=True) + np.exp(s - m))
            else:
                m = z.max(axis=-1, keepdims=True)
                e = np.exp(z - m)
                P = e / e.sum(axis=-1, keepdims=True)
            out[h] = P @ V[kv]
            if self.affine is not None:
                out[h] = alpha[:, h, None] * out[h] + (alpha_ma[h] - alpha[:, h, None]) * (mean_weights @ V[kv])
            if gates is not None:
                out[h] *= gates[:, h, None]
        out = out.transpose(1, 0, 2).reshape(S, -1)
        if self.neox:
            return self.linear(out, neox + "dense")
        return self.linear(out, p + ("dense" if self.phi else "o_proj"))

    def dense_mlp(self, n, x):
        p = "model.layers.%d.mlp." % n
        if p + "c_fc.weight" in self.w:                         # Starcoder 2: no gate
            return self.linear(self.act(self.linear(x, p + "c_fc")), p + "c_proj")
        if p + "fc1.weight" in self.w:                          # Phi: no gate
            return self.linear(self.act(self.linear(x, p + "fc1")), p + "fc2")
        if p + "dense_h_to_4h.weight" in self.w:                # GPT-NeoX: no gate
            return self.linear(self.act(self.linear(x, p + "dense_h_to_4h")), p + "dense_4h_to_h")
        if not self.gated_mlp:                                  # Arcee, Nemotron (NemotronMLP): no gate
            return self.linear(self.act(self.linear(x, p + "up_proj")), p + "down_proj")
        if p + "gate_up_proj.weight" in self.w:                 # Phi-3: [gate; up] rows
            gate_up = self.linear(x, p + "gate_up_proj")
            I = gate_up.shape[-1] // 2
            gate, up = gate_up[:, :I], gate_up[:, I:]
        else:
            gate, up = self.linear(x, p + "gate_proj"), self.linear(x, p + "up_proj")
        return self.linear(self.act(gate) * up, p + "down_proj")

    def mixtral_moe(self, n, x):
        # Renormalized over the chosen k (Mixtral), or (a test switch) the softmax over all experts.
        return self.sparse_moe("model.layers.%d.block_sparse_moe." % n, x, self.cfg.get("num_experts_per_tok", 2),
                               self.moe_renormalize, ("w1", "w3", "w2"))

    def phimoe_moe(self, n, x):
        """PhimoeSparseMoeBlock: router block_sparse_moe.gate (no bias), SparseMixer's two experts and weights (eps
        router_jitter_noise); expert e: w2(act(w1 x) * w3 x)."""
        p = "model.layers.%d.block_sparse_moe." % n
        logits = self.linear(x, p + "gate")                    # [S, E]
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            for e, wt in zip(*sparsemixer(logits[t], self.cfg["router_jitter_noise"])):
                q = p + "experts.%d." % e
                h = self.act(self.linear(x[t], q + "w1")) * self.linear(x[t], q + "w3")
                out[t] += wt * self.linear(h, q + "w2")
        return out

    def qwen3_moe(self, n, x):
        return self.sparse_moe("model.layers.%d.mlp." % n, x, self.cfg.get("num_experts_per_tok", 8),
                               self.cfg.get("norm_topk_prob", False), ("gate_proj", "up_proj", "down_proj"))

    def qwen2_moe(self, n, x):
        """Qwen3-MoE's routed experts plus the shared expert times sigmoid(shared_expert_gate . x)."""
        p = "model.layers.%d.mlp." % n
        routed = self.sparse_moe(p, x, self.cfg.get("num_experts_per_tok", 4), self.cfg.get("norm_topk_prob", False),
                                 ("gate_proj", "up_proj", "down_proj"))
        q = p + "shared_expert."
        shared = self.linear(self.act(self.linear(x, q + "gate_proj")) * self.linear(x, q + "up_proj"), q + "down_proj")
        if self.shared_gate:
            shared = sigmoid(self.linear(x, p + "shared_expert_gate")) * shared
        return routed + shared

    def granite_moe(self, n, x):
        """Router block_sparse_moe.router.layer: the top k logits (ties to the lower expert), softmax over
        them; expert e: its rows of output_linear [E, H, I] times act(gate x) * up x, with gate and up the
        first and last I rows of its input_linear [E, 2I, H]."""
        p = "model.layers.%d.block_sparse_moe." % n
        k = self.cfg.get("num_experts_per_tok", 2)
        logits = self.linear(x, p + "router.layer")
        w_in, w_out = self.w[p + "input_linear.weight"], self.w[p + "output_linear.weight"]
        I = w_out.shape[2]
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            top = np.argsort(-logits[t], kind="stable")[:k]
            weights = np.exp(logits[t, top] - logits[t, top].max())
            weights /= weights.sum()
            for e, wt in zip(top, weights):
                h = self.int8_weight(p + "input_linear.weight", w_in)[e] @ self.int8_input(x[t])
                act = self.int8_input(self.act(h[:I]) * h[I:])
                out[t] += wt * (self.int8_weight(p + "output_linear.weight", w_out)[e] @ act)
        return out

    def sparse_moe(self, p, x, k, renormalize, names):
        """Router `p`gate (no bias): softmax over all experts, the top k (ties to the lower expert), their
        probabilities divided by their sum if `renormalize`; expert e: down(act(gate x) * up x)."""
        logits = self.linear(x, p + "gate")                    # [S, E]
        gate, up, down = names
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            probs = np.exp(logits[t] - logits[t].max())
            probs /= probs.sum()
            top = np.argsort(-logits[t], kind="stable")[:k]
            weights = probs[top] / probs[top].sum() if renormalize else probs[top]
            for e, wt in zip(top, weights):
                q = p + "experts.%d." % e
                h = self.act(self.linear(x[t], q + gate)) * self.linear(x[t], q + up)
                out[t] += wt * self.linear(h, q + down)
        return out

    def glm4_moe(self, n, x):
        """Glm4MoeMoE (and Dots1MoE, DeepseekV3MoE: the same): sigmoid router scores s; choice scores s +
        e_score_correction_bias, limited to the experts of the topk_group groups whose two best choice scores sum
        highest (the others score masked_group_score, 0.0); the top k experts by choice score (ties to the lower group /
        expert), weighted by s, renormalized (norm_topk_prob) and times routed_scaling_factor; plus the shared
        experts."""
        cfg = self.cfg
        p = "model.layers.%d.mlp." % n
        E, G, k = cfg["n_routed_experts"], cfg["n_group"], cfg["num_experts_per_tok"]
        scores = sigmoid(self.linear(x, p + "gate"))                       # [S, E]
        choice = scores + self.w[p + "gate.e_score_correction_bias"]
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            groups = np.sort(choice[t].reshape(G, E // G), axis=-1)[:, -2:].sum(axis=-1)
            kept = np.argsort(-groups, kind="stable")[:cfg["topk_group"]]
            in_kept = np.zeros(G, dtype=bool)
            in_kept[kept] = True
            masked = np.where(np.repeat(in_kept, E // G), choice[t], self.masked_group_score)
            top = np.argsort(-masked, kind="stable")[:k]
            weights = (choice if self.weights_with_correction else scores)[t, top]
            if cfg["norm_topk_prob"]:
                weights = weights / (weights.sum() + 1e-20)
            weights = weights * cfg["routed_scaling_factor"]
            for e, wt in zip(top, weights):
                q = p + "experts.%d." % e
                h = self.act(self.linear(x[t], q + "gate_proj")) * self.linear(x[t], q + "up_proj")
                out[t] += wt * self.linear(h, q + "down_proj")
        q = p + "shared_experts."
        shared = self.linear(self.act(self.linear(x, q + "gate_proj")) * self.linear(x, q + "up_proj"), q + "down_proj")
        return out + shared

    def ernie4_5_moe(self, n, x):
        """Ernie4_5_MoeSparseMoeBlock: p = softmax(x . mlp.gate.weight) over all experts; the top moe_k experts by p +
        mlp.moe_statics.e_score_correction_bias (ties to the lower expert), weighted by p (without the bias) divided by
        max(their sum, moe_norm_min); plus the shared experts when moe_num_shared_experts > 0."""
        cfg = self.cfg
        p = "model.layers.%d.mlp." % n
        logits = self.linear(x, p + "gate")                                # [S, E]
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        choice = probs + self.w[p + "moe_statics.e_score_correction_bias"].reshape(-1)
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            top = np.argsort(-choice[t], kind="stable")[:cfg["moe_k"]]
            weights = (choice if self.weights_with_correction else probs)[t, top]
            weights = weights / max(weights.sum(), cfg["moe_norm_min"])
            for e, wt in zip(top, weights):
                q = p + "experts.%d." % e
                h = self.act(self.linear(x[t], q + "gate_proj")) * self.linear(x[t], q + "up_proj")
                out[t] += wt * self.linear(h, q + "down_proj")
        if cfg["moe_num_shared_experts"] > 0:
            q = p + "shared_experts."
            out = out + self.linear(self.act(self.linear(x, q + "gate_proj")) * self.linear(x, q + "up_proj"),
                                    q + "down_proj")
        return out

    def moe_layer(self, n):
        """Whether layer n has the mixture (else a dense MLP of intermediate_size): GLM-4.5 MoE, dots.llm1 and
        DeepSeek-V3 from first_k_dense_replace on; Qwen2/3-MoE where n is not in mlp_only_layers, num_experts > 0 and
        (n + 1) % decoder_sparse_step == 0; ERNIE 4.5 MoE where (n + 1) % moe_layer_interval == 0 and
        moe_layer_start_index <= n <= moe_layer_end_index."""
        cfg = self.cfg
        if self.moe == "glm4moe":
            return n >= cfg["first_k_dense_replace"]
        if self.moe == "ernie4_5moe":
            return ernie4_5_moe_layer(cfg, n)
        if self.arch in ("Qwen3MoeForCausalLM", "Qwen2MoeForCausalLM"):
            return (n not in (cfg.get("mlp_only_layers") or []) and cfg.get("num_experts", 1) > 0
                    and (n + 1) % cfg.get("decoder_sparse_step", 1) == 0)
        return True

    def gptoss_moe(self, n, x):
        p = "model.layers.%d.mlp." % n
        k = self.cfg["num_experts_per_tok"]
        limit = self.cfg.get("swiglu_limit", 7.0)
        alpha = 1.702
        gate_up_w = self.w[p + "experts.gate_up_proj"]          # [E, H, 2I]
        gate_up_b = self.w[p + "experts.gate_up_proj_bias"]     # [E, 2I]
        down_w = self.w[p + "experts.down_proj"]                # [E, I, H]
        down_b = self.w[p + "experts.down_proj_bias"]           # [E, H]
        logits = self.linear(x, p + "router")                   # [S, E]
        out = np.zeros_like(x)
        for t in range(x.shape[0]):
            top = np.argsort(-logits[t], kind="stable")[:k]
            vals = logits[t, top]
            weights = np.exp(vals - vals.max())
            weights /= weights.sum()
            for e, wt in zip(top, weights):
                gate_up = (self.int8_input(x[t], p + "experts.gate_up_proj")
                           @ self.int8_t(p + "experts.gate_up_proj", gate_up_w)[e] + gate_up_b[e])
                gate, up = gate_up[0::2], gate_up[1::2]
                gate = np.minimum(gate, limit)
                up = np.clip(up, -limit, limit)
                glu = gate * sigmoid(gate * alpha)
                out[t] += wt * (self.int8_input((up + 1.0) * glu, p + "experts.down_proj")
                                @ self.int8_t(p + "experts.down_proj", down_w)[e] + down_b[e])
        return out

    def mlp(self, n, x):
        if not self.moe_layer(n):
            return self.dense_mlp(n, x)
        if self.moe == "glm4moe":
            return self.glm4_moe(n, x)
        if self.moe == "ernie4_5moe":
            return self.ernie4_5_moe(n, x)
        if self.moe == "gptoss":
            return self.gptoss_moe(n, x)
        if self.moe == "mixtral":
            return self.mixtral_moe(n, x)
        if self.moe == "phimoe":
            return self.phimoe_moe(n, x)
        if self.moe == "qwen3moe":
            return self.qwen3_moe(n, x)
        if self.moe == "qwen2moe":
            return self.qwen2_moe(n, x)
        if self.moe == "granitemoe":
            return self.granite_moe(n, x)
        return self.dense_mlp(n, x)

    def forward(self, ids, start, cache):
        """Logits [len(ids), vocab] of tokens `ids` at positions start, start+1, ...; appends to cache."""
        positions = np.arange(start, start + len(ids))
        x = self.w["model.embed_tokens.weight"][np.asarray(ids)] * self.embed_scale
        if "model.embed_positions.weight" in self.w:            # GPT-2's learned positions
            x = x + self.w["model.embed_positions.weight"][positions]
        for n in range(self.L):
            p = "model.layers.%d." % n
            if self.parallel:
                h = self.norm(x, p + "input_layernorm")
                mlp_in = self.norm(x, p + "post_attention_layernorm") if self.parallel_mlp_norm else h
                x = x + self.attention(n, h, positions, cache) + self.mlp(n, mlp_in)
                continue
            if self.post_norms:
                x = x + self.norm(self.attention(n, x, positions, cache), p + "post_attention_layernorm")
                x = x + self.norm(self.mlp(n, x), p + "post_feedforward_layernorm")
                continue
            h = self.attention(n, self.norm(x, p + "input_layernorm"), positions, cache)
            if self.sandwich:
                h = self.norm(h, p + "post_attention_layernorm")
                x = x + h
                x = x + self.norm(self.mlp(n, self.norm(x, p + "pre_feedforward_layernorm")),
                                  p + "post_feedforward_layernorm")
            else:
                x = x + self.residual_scale * h
                x = x + self.residual_scale * self.mlp(n, self.norm(x, p + "post_attention_layernorm"))
        x = self.norm(x, "model.final_layernorm" if self.phi else "model.norm")
        logits = self.int8_input(x) @ self.int8_weight("lm_head", self.lm_head).T
        if "lm_head.bias" in self.w:
            logits = logits + self.w["lm_head.bias"]
        logits = logits * self.logit_scale
        if self.final_softcap is not None:
            logits = self.final_softcap * np.tanh(logits / self.final_softcap)
        return logits


def greedy(model, prompt, max_new):
    """(logits [max_new, vocab] float64, generated tokens)."""
    cache = model.new_cache()
    rows, tokens = [], []
    logits = model.forward(prompt, 0, cache)[-1]
    pos = len(prompt)
    for step in range(max_new):
        rows.append(logits)
        tok = int(np.argmax(logits))
        tokens.append(tok)
        if step + 1 < max_new:
            logits = model.forward([tok], pos, cache)[-1]
            pos += 1
    return np.array(rows).reshape(max_new, -1), tokens


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder with config.json and safetensors")
    ap.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    ap.add_argument("--max-new", type=int, required=True, help="tokens to generate (rows of logits)")
    ap.add_argument("--out", required=True, help="output .npy, float32 [max_new, vocab]")
    ap.add_argument("--print-tokens", action="store_true", help="also print one line per step on stderr")
    ap.add_argument("--no-shared-gate", action="store_true",
                    help="Qwen2-MoE checkpoint without shared_expert_gate: the shared expert's output added as is "
                         "(a .xf spec's shared expert without shared_gate)")
    ap.add_argument("--kv-dtype", choices=("f32", "bf16", "f16"), default="f32",
                    help="round cached keys and values like a model compiled with xfc --kv-dtype")
    ap.add_argument("--dot", choices=("f32", "int8"), default="f32",
                    help="int8: quantize the projections' weights and inputs per row as xf-run --dot int8 does")
    ap.add_argument("--moh", metavar="SHARED,TOPK",
                    help="Mixture-of-Heads gates from the self_attn.moh_router tensors: SHARED shared heads, TOPK "
                         "active routed heads per token")
    ap.add_argument("--affine", choices=("clip", "sigmoid"),
                    help="affine-scaled softmax weights from self_attn.alpha_proj / alpha_ma, alpha = "
                         "clamp(0.1 z + 0.5, 0, 1) (clip) or sigmoid(z)")
    args = ap.parse_args(argv)
    prompt = [int(t) for t in args.prompt_ids.split(",") if t.strip()]
    if not prompt:
        ap.error("empty --prompt-ids")
    if args.max_new < 1:
        ap.error("--max-new must be >= 1")
    model = Model(args.model)
    model.kv_dtype = args.kv_dtype
    model.int8 = args.dot == "int8"
    if args.moh is not None:
        try:
            model.moh = tuple(int(t) for t in args.moh.split(","))
        except ValueError:
            model.moh = ()
        if len(model.moh) != 2:
            ap.error("--moh takes SHARED,TOPK (two integers), got %r" % args.moh)
        hs, k = model.moh
        if not 0 <= hs < model.H or not 1 <= k <= model.H - hs:
            ap.error("--moh %d,%d: need 0 <= SHARED < %d and 1 <= TOPK <= %d - SHARED" % (hs, k, model.H, model.H))
    model.affine = args.affine
    if args.no_shared_gate:
        model.shared_gate = False
    V = model.cfg["vocab_size"]
    if any(t < 0 or t >= V for t in prompt):
        ap.error("prompt ids must lie in [0, %d)" % V)
    logits, tokens = greedy(model, prompt, args.max_new)
    np.save(args.out, logits.astype(np.float32))
    if args.print_tokens:
        for k, (row, tok) in enumerate(zip(logits, tokens)):
            second = np.sort(row)[-2]
            print("step %d: token %d logit %.6f margin %.3g" % (k, tok, row[tok], row[tok] - second), file=sys.stderr)
    print("tokens: " + ",".join(str(t) for t in tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main())
