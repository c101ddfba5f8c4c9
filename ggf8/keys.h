// keys.h — the registry of known metadata keys (SPEC.md §Metadata registry
// mirrors this list). Writers and readers use these constants, never string
// literals, so a key is spelled once. Unknown keys in a file are ignored.
//
// Namespaces: general.* (identity), llm.* (hyperparameters), tokenizer.*,
// chat.*, quant.* (how the weights were quantized, error stats).
#pragma once

namespace ggf8::keys {

// ---- general ---------------------------------------------------------------
inline constexpr const char* kArchitecture = "general.architecture";  // str: "llama" | "mistral" | "qwen2"
inline constexpr const char* kName = "general.name";                  // str: model name (from the directory / config)
inline constexpr const char* kSourceArch = "general.source.architecture";  // str: HF "architectures"[0]
// config.json keys f8 did not read (accepted as not changing the computation;
// nested ones as "text_config.<key>") and keys the user told it to skip.
inline constexpr const char* kSourceConfigUnread = "general.source.config_unread";    // array<str>, optional
inline constexpr const char* kSourceConfigIgnored = "general.source.config_ignored";  // array<str>, optional
inline constexpr const char* kConverter = "general.converter";        // str: "f8 <version>"
inline constexpr const char* kLicense = "general.license";            // str, optional
// Written by `f8 pull` (docs/pull.md): where on the Hub the checkpoint came from.
inline constexpr const char* kSourceRepo = "general.source.repo";          // str: "ORG/NAME"
inline constexpr const char* kSourceRevision = "general.source.revision";  // str: the revision asked for ("main", a tag, ...)
inline constexpr const char* kSourceCommit = "general.source.commit";      // str: the 40-hex commit it resolved to

// ---- llm: hyperparameters (all from config.json) ---------------------------
inline constexpr const char* kContextLength = "llm.context_length";          // u64: max_position_embeddings
inline constexpr const char* kEmbeddingLength = "llm.embedding_length";      // u64: hidden_size
inline constexpr const char* kBlockCount = "llm.block_count";                // u64: num_hidden_layers
inline constexpr const char* kFeedForwardLength = "llm.feed_forward_length"; // u64: intermediate_size
inline constexpr const char* kHeadCount = "llm.attention.head_count";        // u64: num_attention_heads
inline constexpr const char* kHeadCountKv = "llm.attention.head_count_kv";   // u64: num_key_value_heads
inline constexpr const char* kHeadDim = "llm.attention.head_dim";            // u64: head_dim (default hidden/heads)
inline constexpr const char* kRmsEps = "llm.attention.layer_norm_rms_epsilon";  // f32: rms_norm_eps
inline constexpr const char* kQkvBias = "llm.attention.qkv_bias";            // bool: Qwen2 true
inline constexpr const char* kSlidingWindow = "llm.attention.sliding_window";  // u64, 0 = none
// Gemma 2 / Gemma 3 (absent = the Llama-family behaviour):
inline constexpr const char* kSlidingWindowLayers = "llm.attention.sliding_window_layers";  // array<u8> [block_count]: 1 = layer uses sliding_window, 0 = global; absent = every layer
inline constexpr const char* kAttnScale = "llm.attention.scale";             // f32: softmax scale (query_pre_attn_scalar^-0.5); absent = head_dim^-0.5
inline constexpr const char* kAttnSoftcap = "llm.attention.logit_softcapping";  // f32: attn_logit_softcapping, 0 = none
inline constexpr const char* kFinalSoftcap = "llm.final_logit_softcapping";  // f32: final_logit_softcapping, 0 = none
inline constexpr const char* kEmbeddingScale = "llm.embedding_scale";        // f32: embeddings multiplied by it (Gemma: sqrt(hidden)); absent = 1
inline constexpr const char* kFfnActivation = "llm.feed_forward_activation"; // str: "silu" (SwiGLU, default) | "gelu_tanh" (GeGLU)
inline constexpr const char* kPostNorms = "llm.post_norms";                  // bool: blk.N.post_attention_norm / post_ffw_norm present (Gemma)
inline constexpr const char* kRopeFreqBaseLocal = "llm.rope.freq_base_local";  // f32: RoPE base of the sliding-window layers, unscaled (Gemma 3 rope_local_base_freq); absent = as global
// Mixture of experts (absent = dense): layers flagged in expert_layers (all
// when absent) route each token to expert_used_count of expert_count expert
// FFNs (blk.N.ffn_{gate,up,down}_exps, expert_feed_forward_length wide) by
// the router blk.N.ffn_gate_inp, plus a shared expert (blk.N.ffn_*_shexp,
// expert_shared_feed_forward_length wide; 0 = none) scaled by
// sigmoid(blk.N.ffn_gate_inp_shexp . x) when expert_shared_gate.
inline constexpr const char* kExpertCount = "llm.expert_count";                    // u64
inline constexpr const char* kExpertUsedCount = "llm.expert_used_count";           // u64
inline constexpr const char* kExpertFeedForwardLength = "llm.expert_feed_forward_length";  // u64
inline constexpr const char* kExpertSharedFeedForwardLength = "llm.expert_shared_feed_forward_length";  // u64, 0 = none
inline constexpr const char* kExpertGating = "llm.expert_gating";                  // str: "softmax_topk" | "topk_softmax"
inline constexpr const char* kExpertNormTopk = "llm.expert_norm_topk";             // bool: softmax_topk weights renormalized to sum 1
inline constexpr const char* kExpertSharedGate = "llm.expert_shared_gate";         // bool
inline constexpr const char* kExpertLayers = "llm.expert_layers";                  // array<u8> [block_count]: 1 = MoE FFN, 0 = dense FFN
// The experts' gated activation: "silu" (silu(g) * u, default) | "swiglu_oss"
// (gpt-oss: g' = min(g, limit), u' = clamp(u, -limit, limit),
// (u' + 1) * g' * sigmoid(alpha * g')) with its alpha and limit.
inline constexpr const char* kExpertActivation = "llm.expert_activation";          // str, optional
inline constexpr const char* kExpertSwigluAlpha = "llm.expert_swiglu_alpha";       // f32 (swiglu_oss; default 1.702)
inline constexpr const char* kExpertSwigluLimit = "llm.expert_swiglu_limit";       // f32 (swiglu_oss; default 7.0)
// gpt-oss attention: o_proj bias (blk.N.attn_output.bias [hidden]) and
// attention sinks (blk.N.attn_sinks.weight [head_count] F32: one logit per
// head that joins the softmax denominator). Absent = false.
inline constexpr const char* kAttnOutputBias = "llm.attention.output_bias";        // bool
inline constexpr const char* kAttnSinks = "llm.attention.sinks";                   // bool
// Multi-head latent attention (DeepSeek-V3; kv_lora_rank present = MLA):
// q = attn_q_b(rmsnorm(attn_q_a(x)) * attn_q_a_norm) (or attn_q(x) when
// q_lora_rank is 0), [n_heads, qk_nope + qk_rope] per token; attn_kv_a_mqa(x)
// = [c_kv (kv_lora_rank), k_pe (qk_rope)], c_kv through attn_kv_a_norm;
// attn_kv_b(c_kv) = per head [k_nope (qk_nope), v (v_head_dim)]; RoPE
// (rotate_half pairs; the converter de-interleaved the rows) on the last
// qk_rope dims of each q head and on k_pe. head_dim is qk_nope + qk_rope;
// head_count_kv is not used. The KV cache holds kv_lora_rank + qk_rope
// values per token per layer (the latent).
inline constexpr const char* kAttnQLoraRank = "llm.attention.q_lora_rank";        // u64, 0 = attn_q directly
inline constexpr const char* kAttnKvLoraRank = "llm.attention.kv_lora_rank";      // u64
inline constexpr const char* kAttnQkNopeDim = "llm.attention.qk_nope_head_dim";   // u64
inline constexpr const char* kAttnQkRopeDim = "llm.attention.qk_rope_head_dim";   // u64 (even)
inline constexpr const char* kAttnVDim = "llm.attention.v_head_dim";              // u64
// DeepSeek-V3's router (expert_gating "sigmoid_group_topk", MoeGating::
// SigmoidGroupTopK): the experts in group_count equal groups, group_used_count
// kept, the weights times weights_scale (routed_scaling_factor); the
// per-layer score-correction bias is blk.N.ffn_gate_inp.score_bias.
inline constexpr const char* kExpertGroupCount = "llm.expert_group_count";          // u64 (default 1)
inline constexpr const char* kExpertGroupUsedCount = "llm.expert_group_used_count";  // u64 (default 1)
inline constexpr const char* kExpertWeightsScale = "llm.expert_weights_scale";      // f32 (default 1)
inline constexpr const char* kVocabSize = "llm.vocab_size";                  // u64
inline constexpr const char* kTiedEmbeddings = "llm.tie_word_embeddings";    // bool
inline constexpr const char* kRopeFreqBase = "llm.rope.freq_base";           // f32: rope_theta
inline constexpr const char* kRopeScalingType = "llm.rope.scaling.type";     // str: "none" | "linear" | "llama3" | "yarn"
inline constexpr const char* kRopeScalingFactor = "llm.rope.scaling.factor"; // f32
inline constexpr const char* kRopeScalingLowFreq = "llm.rope.scaling.low_freq_factor";    // f32 (llama3)
inline constexpr const char* kRopeScalingHighFreq = "llm.rope.scaling.high_freq_factor";  // f32 (llama3)
inline constexpr const char* kRopeScalingOrigCtx = "llm.rope.scaling.original_context_length";  // u64 (llama3, yarn)
inline constexpr const char* kRopeScalingBetaFast = "llm.rope.scaling.beta_fast";    // f32 (yarn)
inline constexpr const char* kRopeScalingBetaSlow = "llm.rope.scaling.beta_slow";    // f32 (yarn)
inline constexpr const char* kRopeScalingTruncate = "llm.rope.scaling.truncate";     // bool (yarn): floor/ceil the ramp bounds
inline constexpr const char* kRopeScalingAttnFactor = "llm.rope.scaling.attn_factor";  // f32 (yarn): cos/sin multiplier, resolved

// ---- tokenizer -------------------------------------------------------------
inline constexpr const char* kTokKind = "tokenizer.kind";  // str: "sentencepiece" | "bpe"
// SentencePiece: the tokenizer.model protobuf bytes, stored as they are.
inline constexpr const char* kTokSpModel = "tokenizer.sentencepiece.model";  // array<u8>
// Byte-level BPE (tokenizer.json, model.type == "BPE"):
inline constexpr const char* kTokTokens = "tokenizer.tokens";       // array<str>: id -> token text as in tokenizer.json (e.g. "Ġthe")
inline constexpr const char* kTokTypes = "tokenizer.token_type";    // array<i32>: id -> 1 normal, 2 unknown, 3 control (special added), 4 user-defined (non-special added), 5 unused, 6 byte
inline constexpr const char* kTokMerges = "tokenizer.bpe.merges";   // array<str>: "left right", rank order
inline constexpr const char* kTokPre = "tokenizer.bpe.pre";         // str: pre-tokenizer family: "gpt2" | "llama3" | "qwen2" | "smollm" | "custom"
inline constexpr const char* kTokPreJson = "tokenizer.bpe.pre_tokenizer_json";  // str: tokenizer.json "pre_tokenizer" verbatim
inline constexpr const char* kTokNormJson = "tokenizer.bpe.normalizer_json";    // str: tokenizer.json "normalizer" verbatim ("null" if none)
inline constexpr const char* kTokDecoderJson = "tokenizer.bpe.decoder_json";    // str: tokenizer.json "decoder" verbatim
inline constexpr const char* kTokByteFallback = "tokenizer.bpe.byte_fallback";  // bool
inline constexpr const char* kTokIgnoreMerges = "tokenizer.bpe.ignore_merges";  // bool (Llama 3)
inline constexpr const char* kTokMergeLeftLen = "tokenizer.bpe.merge_left_len";  // array<i32>: byte length of each merge's left side; written when a merged token contains ' ' (Gemma)
inline constexpr const char* kTokFuseUnk = "tokenizer.bpe.fuse_unk";  // bool: consecutive unknown characters -> one unk
inline constexpr const char* kTokAddedJson = "tokenizer.bpe.added_tokens_json";  // str: tokenizer.json "added_tokens" verbatim (flags lstrip/rstrip/single_word/normalized/special)
// Special ids (both kinds). -1 / absent = none.
inline constexpr const char* kTokBosId = "tokenizer.bos_id";        // i32
inline constexpr const char* kTokEosId = "tokenizer.eos_id";        // i32 (tokenizer's own eos)
inline constexpr const char* kTokPadId = "tokenizer.pad_id";        // i32
inline constexpr const char* kTokUnkId = "tokenizer.unk_id";        // i32
inline constexpr const char* kTokAddBos = "tokenizer.add_bos";      // bool (tokenizer_config add_bos_token / post_processor)
inline constexpr const char* kTokAddEos = "tokenizer.add_eos";      // bool

// ---- chat / generation -----------------------------------------------------
inline constexpr const char* kChatTemplate = "chat.template";        // str: Jinja text from tokenizer_config.json
inline constexpr const char* kChatBosToken = "chat.bos_token";       // str: as the template sees `bos_token`
inline constexpr const char* kChatEosToken = "chat.eos_token";       // str: as the template sees `eos_token`
inline constexpr const char* kGenEosIds = "chat.eos_ids";            // array<i32>: generation_config eos_token_id(s) ∪ tokenizer eos
inline constexpr const char* kGenTemperature = "chat.default.temperature";  // f32 (generation_config)
inline constexpr const char* kGenTopP = "chat.default.top_p";        // f32
inline constexpr const char* kGenTopK = "chat.default.top_k";        // i32

// ---- quant -----------------------------------------------------------------
inline constexpr const char* kQuantWeights = "quant.weights";        // str: "e4m3" | "e5m2" | "bf16"
inline constexpr const char* kQuantScale = "quant.scale";            // str: "tensor" | "channel" | "block"
inline constexpr const char* kQuantSource = "quant.source";          // str: "requantized" | "prequantized" (imported FP8 checkpoint)
// Per-tensor stats, parallel arrays over the quantized tensors:
inline constexpr const char* kQuantStatNames = "quant.stats.tensor";     // array<str>
inline constexpr const char* kQuantStatSqnr = "quant.stats.sqnr_db";     // array<f32>
inline constexpr const char* kQuantStatMaxErr = "quant.stats.max_abs_err";  // array<f32>
inline constexpr const char* kQuantStatSat = "quant.stats.saturated_pct";   // array<f32>
inline constexpr const char* kQuantStatFlush = "quant.stats.flushed_pct";   // array<f32>
// f8 convert --calibrate / --auto-format (docs/convert.md); calibrate.cpp writes them.
inline constexpr const char* kQuantActivations = "quant.activations";      // str: "static"
// Calibration (`f8 convert --calibrate`): what was run and what it measured.
inline constexpr const char* kQuantCalibText = "quant.calib.text";                  // str: calibration text (file name)
inline constexpr const char* kQuantCalibTokens = "quant.calib.tokens";              // u64: tokens run
inline constexpr const char* kQuantCalibActPercentile = "quant.calib.act_percentile";  // f32: 100 = amax
inline constexpr const char* kQuantCalibKvHeadroom = "quant.calib.kv_headroom";     // f32: KV scale = amax * headroom / max
inline constexpr const char* kQuantCalibActAmax = "quant.calib.act_amax";          // array<f32> [layer x site]
inline constexpr const char* kQuantCalibActP9999 = "quant.calib.act_p9999";        // array<f32> [layer x site]
inline constexpr const char* kQuantCalibKAmax = "quant.calib.k_amax";              // array<f32> [layer x kv head]
inline constexpr const char* kQuantCalibVAmax = "quant.calib.v_amax";              // array<f32> [layer x kv head]
inline constexpr const char* kQuantCalibRounding = "quant.calib.rounding";          // str: "gptq" | "nearest"
inline constexpr const char* kQuantCalibDamp = "quant.calib.damp";                  // f32: gptq damping / mean diag
// K centering of the fp8/int8 KV cache (docs/runtime.md): the mean of K before
// RoPE per layer x KV head x channel, measured by `f8 convert` on the
// runtime's built-in calibration text so that no process measures it again.
inline constexpr const char* kQuantKvKMean = "quant.kv.k_mean";                    // array<f32> [layer x kv head x head_dim]
inline constexpr const char* kQuantKvKMeanTokens = "quant.kv.k_mean_tokens";       // u64: tokens it was measured on
// Automatic per-tensor format choice (`--auto-format BITS`).
inline constexpr const char* kQuantAutoTensor = "quant.auto.tensor";       // array<str>
inline constexpr const char* kQuantAutoFormat = "quant.auto.format";       // array<str>: "e4m3/channel" | "e4m3/block" | "e5m2/channel" | "bf16"
inline constexpr const char* kQuantAutoKl = "quant.auto.kl";               // array<f32>
inline constexpr const char* kQuantAutoKlE4m3Channel = "quant.auto.kl.e4m3_channel";  // array<f32>
inline constexpr const char* kQuantAutoKlE4m3Block = "quant.auto.kl.e4m3_block";      // array<f32>
inline constexpr const char* kQuantAutoKlE5m2Channel = "quant.auto.kl.e5m2_channel";  // array<f32>
inline constexpr const char* kQuantAutoBudgetBits = "quant.auto.budget_bits";  // f32
inline constexpr const char* kQuantAutoMeanBits = "quant.auto.mean_bits";      // f32
inline constexpr const char* kQuantAutoHeldoutTokens = "quant.auto.heldout_tokens";  // u64

}  // namespace ggf8::keys

// Tensor names (canonical, arch-independent; the converter maps HF names):
//   token_embd.weight                 [vocab, hidden]
//   output_norm.weight                [hidden]
//   output.weight                     [vocab, hidden]   (absent when tied)
//   blk.N.attn_norm.weight            [hidden]
//   blk.N.attn_q.weight / .bias       [heads*head_dim, hidden] / [heads*head_dim]
//   blk.N.attn_k.weight / .bias       [kv_heads*head_dim, hidden]
//   blk.N.attn_v.weight / .bias       [kv_heads*head_dim, hidden]
//   blk.N.attn_output.weight          [hidden, heads*head_dim]
//   blk.N.attn_output.bias            [hidden]  (llm.attention.output_bias: gpt-oss)
//   blk.N.attn_sinks.weight           [heads] F32 (llm.attention.sinks: gpt-oss)
//   blk.N.ffn_norm.weight             [hidden]
//   blk.N.attn_q_norm.weight / attn_k_norm.weight [head_dim] (Qwen3, Gemma 3)
//   blk.N.post_attention_norm.weight  [hidden]  (Gemma: norm of the attention output)
//   blk.N.post_ffw_norm.weight        [hidden]  (Gemma: norm of the MLP output)
// Gemma files store every norm weight as 1 + w (transformers' Gemma RMSNorm
// multiplies by 1 + w), so the runtime's rmsnorm is the same op for all.
// Multi-head latent attention (llm.attention.kv_lora_rank; R = kv_lora_rank,
// P = qk_rope_head_dim, D = qk_nope + qk_rope, H = heads) instead of
// attn_q/k/v:
//   blk.N.attn_q_a.weight             [q_lora_rank, hidden]   (q_lora_rank > 0)
//   blk.N.attn_q_a_norm.weight        [q_lora_rank]
//   blk.N.attn_q_b.weight             [H*D, q_lora_rank]      (or attn_q.weight [H*D, hidden])
//   blk.N.attn_kv_a_mqa.weight        [R + P, hidden]
//   blk.N.attn_kv_a_norm.weight       [R]
//   blk.N.attn_kv_b.weight            [H*(qk_nope + v_head_dim), R]
//   blk.N.attn_output.weight          [hidden, H*v_head_dim]
//   blk.N.ffn_gate_inp.score_bias     [experts] F32 (sigmoid_group_topk: e_score_correction_bias)
//   blk.N.ffn_gate.weight             [ffn, hidden]
//   blk.N.ffn_up.weight               [ffn, hidden]
//   blk.N.ffn_down.weight             [hidden, ffn]
// Scales of a quantized weight W: the tensor "<W name>.scale" (F32), referenced
// from W's directory entry. Static activation scale: "<W name without
// .weight>.input_scale" (F32 [1]). KV cache scales: "blk.N.attn_k.kv_scale",
// "blk.N.attn_v.kv_scale" (F32 [1]; dequantization multipliers, after RoPE).
