// tests/backend/moe_test_util.h — random MoE layers for the CUDA MoE tests
// (test_cuda_moe_replay.cpp on the CPU, test_cuda_moe.cpp on a GPU): expert
// stacks laid out as GGF8 2.0 stores them, per-expert biases, and routings
// by moe_route_token.
#pragma once

#include <string>
#include <vector>

#include "backend/moe_route.h"
#include "backend_test_util.h"

namespace f8test {

// E matrices [rows, cols] stacked as GGF8 2.0 stores them (compact; scales
// per matrix, or one tensor scale for the stack).
struct Stack {
  std::vector<uint8_t> bytes;
  std::vector<float> scale;
  Weight w;  // n_mats = E; data/scale point into this object (re-point after a copy: HostLayer::view)
};
inline Stack make_stack(int32_t E, int64_t rows, int64_t cols, DType dt, ScaleKind sk, uint32_t seed, uint32_t br,
                        uint32_t bc) {
  Stack s;
  int64_t per = 0;
  for (int32_t e = 0; e < E; ++e) {
    TestWeight tw = make_weight(rows, cols, dt, sk, seed + 101 * uint32_t(e), br, bc);
    s.bytes.insert(s.bytes.end(), tw.bytes.begin(), tw.bytes.end());
    if (sk == ScaleKind::Tensor) {
      if (e == 0) s.scale = tw.scale;
    } else {
      per = int64_t(tw.scale.size());
      s.scale.insert(s.scale.end(), tw.scale.begin(), tw.scale.end());
    }
    if (e == 0) s.w = tw.view;
  }
  s.w.data = s.bytes.data();
  s.w.scale = s.scale.empty() ? nullptr : s.scale.data();
  s.w.n_mats = E;
  s.w.mat_stride = rows * cols;
  s.w.mat_scale_stride = per;
  return s;
}

struct LayerSpec {
  int32_t E = 6;
  int64_t H = 200, F = 72;  // K not a multiple of 64 (zero pad), F not of 16 (partial row tile)
  DType dt = DType::E4M3;
  ScaleKind sk = ScaleKind::Channel;
  uint32_t br = 32, bc = 64;  // block scale shape (the CUDA backend needs rows % 16, cols % 64)
  MoeAct act = MoeAct::SwiGLU;
  bool biases = false;
};

inline std::string spec_name(const LayerSpec& sp) {
  return std::string(ggf8::dtype_name(sp.dt)) + "/" + ggf8::scale_kind_name(sp.sk) +
         (sp.act == MoeAct::SwiGLUOss ? " oss" : " swiglu") + (sp.biases ? " biases" : "");
}

// A layer's experts as a file holds them: `host` views them (cpu-ref reads
// it directly; a device test uploads it). view() re-derives the full,
// unsliced views (after a copy of the object).
struct HostLayer {
  Stack gate, up, down;
  std::vector<float> gb, ub, db;  // [E, F], [E, F], [E, H] or empty
  MoeAct act = MoeAct::SwiGLU;
  MoeExperts host;
  MoeExperts view() const {
    MoeExperts x;
    auto w = [](const Stack& s) {
      Weight v = s.w;
      v.data = s.bytes.data();
      v.scale = s.scale.empty() ? nullptr : s.scale.data();
      return v;
    };
    x.gate = w(gate);
    x.up = w(up);
    x.down = w(down);
    x.act = act;
    if (!gb.empty()) {
      x.gate_b = {gb.data(), DType::F32};
      x.up_b = {ub.data(), DType::F32};
      x.down_b = {db.data(), DType::F32};
    }
    return x;
  }
};
inline HostLayer make_host_layer(const LayerSpec& sp, uint32_t seed) {
  HostLayer L;
  L.gate = make_stack(sp.E, sp.F, sp.H, sp.dt, sp.sk, seed, sp.br, sp.bc);
  L.up = make_stack(sp.E, sp.F, sp.H, sp.dt, sp.sk, seed + 1, sp.br, sp.bc);
  L.down = make_stack(sp.E, sp.H, sp.F, sp.dt, sp.sk, seed + 2, sp.br, sp.bc);
  L.act = sp.act;
  if (sp.biases) {
    L.gb = randn(size_t(sp.E * sp.F), seed + 3, 0.5f);
    L.ub = randn(size_t(sp.E * sp.F), seed + 4, 0.5f);
    L.db = randn(size_t(sp.E * sp.H), seed + 5, 0.5f);
  }
  L.host = L.view();
  return L;
}

// Routing of T random tokens by moe_route_token (SoftmaxTopK, normalized),
// with exact ties between experts 0 and E - 1 on every third token.
inline void route_tokens(int32_t T, int32_t E, int32_t k, uint32_t seed, std::vector<int32_t>* ids,
                         std::vector<float>* w) {
  std::vector<float> lg = randn(size_t(T) * E, seed);
  for (int32_t t = 0; t < T; t += 3) lg[size_t(t) * E + E - 1] = lg[size_t(t) * E];
  const MoeRoute r{MoeGating::SoftmaxTopK, E, k, true};
  ids->assign(size_t(T * k), -1);
  w->assign(size_t(T * k), 0.0f);
  for (int32_t t = 0; t < T; ++t)
    moe_route_token(lg.data() + size_t(t) * E, r, ids->data() + size_t(t) * k, w->data() + size_t(t) * k);
}

}  // namespace f8test
