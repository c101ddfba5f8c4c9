// ggf8/fp8_bulk.h — fast bulk FP8 conversions for the CPU.
//
// Contract: every function here produces exactly (bit for bit) what the
// scalar codec in ggf8/fp8.h produces element by element — including NaN
// codes, which decode to the canonical NaN 0x7FC00000 — as long as the CPU is
// not in DAZ/FTZ mode (subnormal FP8 codes pass through FP32 denormals).
// The *_scaled decoders return decode(b) * scale rounded once, i.e. the same
// float as the scalar `e4m3_to_f32(b) * scale`, for every finite scale.
//
// Implementations: a portable C++ path (plain loops and a 256-entry table)
// and, when the CPU has AVX2+F16C+FMA, intrinsics chosen at run time. Pointers
// need no alignment; src and dst must not overlap. n may be 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ggf8 {

// ---- FP8 -> FP32, exact ----
void e4m3_to_f32(const uint8_t* src, float* dst, size_t n);
void e5m2_to_f32(const uint8_t* src, float* dst, size_t n);
// dst[i] = decode(src[i]) * scale (the dequantization multiplier).
void e4m3_to_f32_scaled(const uint8_t* src, float* dst, size_t n, float scale);
void e5m2_to_f32_scaled(const uint8_t* src, float* dst, size_t n, float scale);

// ---- The FP8.md bit tricks, in bulk (see the scalar ones in fp8.h) ----
// FP16 bits of value * 2^-8 (fold 2^8 into the scale). NaN codes are NOT
// patched: they give the finite 480 * 2^-8 (0x3F80 / 0xBF80).
void e4m3_to_f16_trick(const uint8_t* src, uint16_t* dst, size_t n);
// BF16 bits of value * 2^-120 (normal codes exact; subnormals on BF16
// denormals). NaN codes are not patched.
void e4m3_to_bf16_trick(const uint8_t* src, uint16_t* dst, size_t n);
// FP16 bits, exactly (E5M2 is the top byte of an FP16).
void e5m2_to_f16(const uint8_t* src, uint16_t* dst, size_t n);

// ---- 256-entry tables: the always-correct fallback ----
// table[b] == e4m3_to_f32(b) (resp. e5m2_to_f32(b)), built once, thread-safe.
const float* e4m3_f32_table();
const float* e5m2_f32_table();
// dst[i] = table[src[i]]: the portable reference path, kept public so
// benchmarks can compare it with the dispatched functions above.
void e4m3_to_f32_table(const uint8_t* src, float* dst, size_t n);
void e5m2_to_f32_table(const uint8_t* src, float* dst, size_t n);

// ---- FP32 -> FP8 ----
// dst[i] = e4m3_from_f32_div(src[i], scale, satfinite) = enc(fl(x / s)):
// the quantization every f8 quantizer uses (PyTorch's (x / s).to(fp8) byte
// for byte). scale must be finite and nonzero for a meaningful result (x / 0
// gives inf/NaN codes exactly as the scalar form does).
void f32_to_e4m3_div(const float* src, uint8_t* dst, size_t n, float scale, bool satfinite = true);
void f32_to_e5m2_div(const float* src, uint8_t* dst, size_t n, float scale, bool satfinite = true);
// dst[i] = e4m3_from_f32(src[i] * inv_scale, satfinite): encode after a
// multiply. With inv_scale = 1/s this is NOT the *_div result wherever 1/s is
// inexact (see fp8.h); use it for unscaled encoding (inv_scale = 1) or
// exact powers of two.
void f32_to_e4m3(const float* src, uint8_t* dst, size_t n, float inv_scale = 1.0f,
                 bool satfinite = true);
void f32_to_e5m2(const float* src, uint8_t* dst, size_t n, float inv_scale = 1.0f,
                 bool satfinite = true);

// Which implementation the dispatched functions use on this CPU: "avx2"
// (AVX2+F16C+FMA) or "portable". For benchmark reports.
const char* fp8_bulk_isa();

// Forces the portable path (true) or restores run-time detection (false);
// lets tests and benchmarks exercise both paths on one machine. Not meant to
// be flipped while another thread is converting.
void fp8_bulk_force_portable(bool on);

}  // namespace ggf8
