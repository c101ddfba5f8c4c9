// mxfp4.h — OCP MXFP4 (the format gpt-oss publishes its experts in) and its
// lossless import as E4M3 codes with a per-32-column block scale.
//
// MXFP4 as the gpt-oss checkpoints store it (transformers
// integrations/mxfp4.py, _convert_moe_packed_tensors):
//   <proj>_blocks [experts, rows, cols / 32, 16] U8: two E2M1 values per
//                 byte, the LOW nibble first (element 2j of the 32-block in
//                 bits 0-3 of byte j, element 2j + 1 in bits 4-7);
//   <proj>_scales [experts, rows, cols / 32] U8: one E8M0 exponent per
//                 32-element block, value 2^(s - 127);
//   value = E2M1(nibble) * 2^(s - 127), E2M1 = sign (bit 3) x
//   {0, 0.5, 1, 1.5, 2, 3, 4, 6}[bits 0-2].
//
// Why the import is exact: every E2M1 magnitude has at most two significant
// bits and lies in [0.5, 6], inside E4M3's normal range (2^-6 .. 448, 3
// mantissa bits), so each nibble has an E4M3 code of exactly its value
// (-0 included); and 2^(s - 127) for s in 0..254 is a float32 (s = 0:
// 2^-127, a float32 subnormal). decode(code) * scale is then the product of
// a <= 2-bit significand and a power of two: exact in float32 down to
// 0.5 * 2^-127 = 2^-128 (above the smallest subnormal 2^-149). So
// E4M3(code) x F32 block scale (block_rows 1, block_cols 32) reproduces
// every MXFP4 value bit for bit (tests/convert/test_gpt_oss.cpp checks all
// 16 nibbles against every one of the 255 finite scales).
// E8M0 255 is NaN in the OCP spec: refused (a NaN weight block).
//
// The cost: 8 bits per weight + 32 bits per 32 weights (9 bits/weight)
// instead of MXFP4's 4.25. Storing MXFP4 as is for a GPU kernel that reads it
// natively is left for later (ggf8/SPEC.md notes the option).
#pragma once

#include <cstdint>

namespace f8conv::mxfp4 {

// E2M1 nibble (low 4 bits) -> its value (float, exact), as transformers' FP4_VALUES.
float e2m1_value(uint8_t nibble);
// E2M1 nibble -> the E4M3 code of the same value (0x80 for -0).
uint8_t e2m1_to_e4m3(uint8_t nibble);
// E8M0 exponent -> 2^(s - 127) as float32; false for s = 255 (NaN).
bool e8m0_scale(uint8_t s, float* out);

// One row of `cols` MXFP4 values (cols % 32 == 0): blocks[cols / 2] bytes,
// scales[cols / 32] -> codes[cols] E4M3 and block_scales[cols / 32] F32.
// Returns the index of the first NaN scale (s = 255), or -1 when all are finite.
int64_t import_row(const uint8_t* blocks, const uint8_t* scales, int64_t cols, uint8_t* codes,
                   float* block_scales);

}  // namespace f8conv::mxfp4
