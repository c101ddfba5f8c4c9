// ref_moe.h — the scalar MoE ops of cpu/ref (see backend.h: moe_route,
// moe_ffn, sigmoid_scale_rows), also the oracle of the other backends' tests.
#pragma once

#include "backend/backend.h"

namespace f8backend::cpu {

void ref_moe_route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w);
// Each o_e through s.gemm (one token at a time), summed in ascending expert id.
void ref_moe_ffn(Stream& s, const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w,
                 int32_t k, float* y, ActQuant act);
void ref_sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim);

}  // namespace f8backend::cpu
