// tests/backend/test_cuda_moe_replay.cpp — the CUDA MoE layer replayed on
// the CPU, lane by lane, on the device image of random expert stacks (built
// by weight_image.h, the code CudaBackend::upload runs), against cpu-ref's
// moe_ffn (the oracle, src/backend/cpu/ref/ref_moe.cpp):
//   route ids given -> moe_group -> quantize_act (x) -> moe_gemm_fp8 gate+up
//   -> quantize_act (A) -> moe_gemm_fp8 down -> moe_combine
// (moe_gemm_wonly for 16/32-bit stacks). The FP8 GEMM replay — every
// lane's 16-byte weight loads and slot-indirected activation loads, the
// k-permuted fragments, an emulated mma.sync.m16n8k32 (kernels/mma_fp8.h),
// the chunk schedule, the shared-memory reduction and the fused epilogue —
// is first checked bit for bit against the kernel's arithmetic written
// plainly (per warp: chunk sums in the MMA's order, FP32 promotion, warps
// added in order), then the layer against cpu-ref within FP32-accumulation
// tolerance (cpu-ref sums in double; a quantized activation may round to
// the neighbouring E4M3 code). E4M3/E5M2 with tensor/channel/block scales,
// BF16/F16/F32 stacks, per-expert biases, SwiGLU and gpt-oss's SwiGLUOss,
// tensor-parallel slices (row stride / mat_stride of the full stack), and
// the results' independence of the batch and of the token-tile size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cpu/cpu_common.h"
#include "backend/cuda/weight_image.h"
#include "backend/moe_route.h"
#include "backend_test_util.h"
#include "ggf8/fp8.h"
#include "kernels/mma_fp8.h"
#include "kernels/moe_math.h"
#include "moe_replay.h"
#include "moe_test_util.h"

namespace {

using namespace f8test;
using namespace f8k::moe;
using namespace moe_replay;
namespace mma = f8k::mma;
namespace cu = f8backend::cuda;

bool fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

// ---- stacks and their device images ---------------------------------------------------------

// A weight's device image (what upload puts on the GPU), host-resident.
struct Image {
  std::vector<uint8_t> bytes;
  std::vector<float> scale;
  Weight w;  // describes `bytes` / `scale` (dtype, row_stride, mat_stride, ...)
};
Image make_image(const Weight& h) {
  Image im;
  const cu::WeightLayout L = cu::weight_layout(h);
  im.bytes.assign(L.bytes, 0xCD);
  cu::fill_image_rows(h, L, im.bytes.data(), 0, size_t(L.n_mats * L.mat_rows));
  im.scale = cu::image_scales(h, L);
  im.w = cu::image_weight(h, L, im.bytes.data(), im.scale.data());
  return im;
}

// A layer as the file holds it (moe_test_util.h) and its device images.
struct Layer : HostLayer {
  Image dgate, dup, ddown, dgb, dub, ddb;
  MoeExperts dev;  // views into the images
};
Layer make_layer(const LayerSpec& sp, uint32_t seed) {
  Layer L;
  static_cast<HostLayer&>(L) = make_host_layer(sp, seed);
  L.host = L.view();
  return L;
}

// What src/model/model.cpp uploads for a (possibly sliced) layer.
void build_device(Layer& L) {
  const MoeExperts& h = L.host;
  L.dgate = make_image(h.gate);
  L.dup = make_image(h.up);
  L.ddown = make_image(h.down);
  L.dev = h;
  L.dev.gate = L.dgate.w;
  L.dev.up = L.dup.w;
  L.dev.down = L.ddown.w;
  const int64_t F = h.gate.rows, H = h.gate.cols, FB = h.fb_stride ? h.fb_stride : F;
  auto bias = [&](const Bias& b, int64_t n, int64_t stride, Image* im, Bias* out) {
    if (!b.data) return;
    Weight v;
    v.data = b.data;
    v.dtype = b.dtype;
    v.rows = 1;
    v.cols = n;
    v.n_mats = h.gate.n_mats;
    v.mat_stride = stride;
    *im = make_image(v);
    *out = {im->w.data, im->w.dtype};
  };
  bias(h.gate_b, F, FB, &L.dgb, &L.dev.gate_b);
  bias(h.up_b, F, FB, &L.dub, &L.dev.up_b);
  bias(h.down_b, H, H, &L.ddb, &L.dev.down_b);
  L.dev.fb_stride = F;
}

// ---- activation quantization (act_quant.cu's numerics) -----------------------------------------
void quantize_rows(const float* x, int64_t rows, int64_t K, int64_t ldx, std::vector<uint8_t>* q,
                   std::vector<float>* s) {
  q->assign(size_t(rows * ldx), 0);
  s->assign(size_t(rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(x[r * K + k]));
    const float sc = std::max(amax / ggf8::kE4M3Max, f8backend::kActScaleTiny);
    (*s)[size_t(r)] = sc;
    for (int64_t k = 0; k < K; ++k) (*q)[size_t(r * ldx + k)] = ggf8::e4m3_from_f32(x[r * K + k] / sc);
  }
}

// ---- moe_gemm_fp8, replayed ----------------------------------------------------------------------
struct GemmIn {
  const Group* g;
  int32_t k;
  bool gathered;
  const Weight* w[2];  // device images; w[1] null: one matrix
  const float* bias[2];
  int64_t bias_stride;
  const uint8_t* xq;   // E4M3 rows (FP8) ...
  const float* sx;
  const float* xf;     // ... or F32 rows (weight-only)
  int64_t ldx;
  int32_t act;
  float alpha, limit;
  float* y;
  int64_t ldy;
};

const uint8_t* mat_base(const Weight& w, int32_t e) {
  return static_cast<const uint8_t*>(w.data) + e * w.mat_stride * int64_t(ggf8::dtype_size(w.dtype));
}
const float* mat_scale(const Weight& w, int32_t e) { return w.scale ? w.scale + e * w.mat_scale_stride : nullptr; }
float sw_of(const Weight& w, const float* sc, int64_t n) {
  return w.scale_kind == ScaleKind::Tensor ? sc[0] : w.scale_kind == ScaleKind::Channel ? sc[n] : 1.0f;
}

template <int TILES, int MATS>
void replay_fp8(const GemmIn& p, int32_t P, int32_t E) {
  using C = GemmCfg<TILES, MATS>;
  constexpr int W = C::kWarps, MT = C::kMT, U = C::kUnroll, TO = mma::kM * mma::kN;
  const Group& g = *p.g;
  const Weight& w0 = *p.w[0];
  const int64_t N = w0.rows, nk = (w0.cols + mma::kChunk - 1) / mma::kChunk, ws = w0.row_stride;
  const bool e5m2 = w0.dtype == DType::E5M2, block = w0.scale_kind == ScaleKind::Block;
  const int32_t B = mma::kN * TILES;
  const int64_t bx = (N + 16 * MT - 1) / (16 * MT);
  std::vector<float> acc(size_t(W) * MATS * MT * TILES * 32 * 4);
  auto A = [&](int w, int m, int mt, int tt, int lane, int i) -> float& {
    return acc[size_t(((((w * MATS + m) * MT + mt) * TILES + tt) * 32 + lane) * 4 + i)];
  };
  for (int64_t b = 0; b < bx; ++b)
    for (int32_t jt = 0; jt < max_tiles(P, E, B); ++jt) {
      if (jt >= g.n_tiles) continue;
      const int32_t e = g.tile_e[size_t(jt)], s0 = g.tile_s0[size_t(jt)];
      const int32_t s1 = tile_end(s0, B, g.offsets[size_t(e) + 1]);
      const int64_t row0 = b * 16 * MT;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int w = 0; w < W; ++w)
        for (int64_t it = 0; mma::chunk_of(w, it, 0, W, U) < nk; ++it)
          for (int u = 0; u < U; ++u) {
            const int64_t c = mma::chunk_of(w, it, u, W, U);
            if (c >= nk) continue;
            for (int m = 0; m < MATS; ++m) {
              const uint8_t* base = mat_base(*p.w[m], e);
              const float* sc = mat_scale(*p.w[m], e);
              for (int mt = 0; mt < MT; ++mt) {
                const float sb = block ? sc[mma::block_scale_index(mma::scale_tile_row(row0 + 16 * mt, N), c,
                                                                   int32_t(w0.block_rows), int32_t(w0.block_cols),
                                                                   w0.scale_cols)]
                                       : 1.0f;
                uint32_t wa[32][4], wb[32][4];
                for (int lane = 0; lane < 32; ++lane) {
                  const int64_t ra = mma::clamp_row(row0 + 16 * mt + mma::load_row(lane, 0), N);
                  const int64_t rb = mma::clamp_row(row0 + 16 * mt + mma::load_row(lane, 1), N);
                  std::memcpy(wa[lane], base + ra * ws + c * mma::kChunk + mma::load_byte(lane), 16);
                  std::memcpy(wb[lane], base + rb * ws + c * mma::kChunk + mma::load_byte(lane), 16);
                }
                for (int tt = 0; tt < TILES; ++tt) {
                  uint32_t xb[32][4];
                  for (int lane = 0; lane < 32; ++lane) {
                    const int32_t s = tile_slot(s0, tt, lane);
                    if (s < s1)
                      std::memcpy(xb[lane],
                                  p.xq + act_row(s, g.order.data(), p.k, p.gathered) * p.ldx + c * mma::kChunk +
                                      mma::load_byte(lane),
                                  16);
                    else
                      std::memset(xb[lane], 0, 16);
                  }
                  uint32_t fa[2][32][4], fb[2][32][2];
                  for (int lane = 0; lane < 32; ++lane)
                    for (int h = 0; h < 2; ++h) {
                      mma::assemble_a(wa[lane], wb[lane], h, fa[h][lane]);
                      mma::assemble_b(xb[lane], h, fb[h][lane]);
                    }
                  float tmp[32][4] = {};
                  mma::emulate_mma_m16n8k32(fa[0], fb[0], tmp, tmp, e5m2);
                  mma::emulate_mma_m16n8k32(fa[1], fb[1], tmp, tmp, e5m2);
                  for (int lane = 0; lane < 32; ++lane)
                    for (int i = 0; i < 4; ++i) {
                      float& a = A(w, m, mt, tt, lane, i);
                      a = block ? std::fma(tmp[lane][i], sb, a) : a + tmp[lane][i];
                    }
                }
              }
            }
          }
      for (int mt = 0; mt < MT; ++mt) {
        std::vector<float> part(static_cast<size_t>(MATS * TILES * TO));
        for (int m = 0; m < MATS; ++m) {
          std::vector<float> red(static_cast<size_t>(W * TILES * mma::kRedTile), std::nanf(""));
          for (int w = 0; w < W; ++w)
            for (int tt = 0; tt < TILES; ++tt)
              for (int lane = 0; lane < 32; ++lane)
                for (int i = 0; i < 4; ++i)
                  red[size_t((w * TILES + tt) * mma::kRedTile + mma::red_index(lane, i))] = A(w, m, mt, tt, lane, i);
          for (int jj = 0; jj < TILES * TO; ++jj) {
            const int tt = jj / TO, el = jj % TO;
            float s = 0.0f;
            for (int w = 0; w < W; ++w)
              s += red[size_t((w * TILES + tt) * mma::kRedTile + mma::red_elem_tok(el) * mma::kRedTokStride +
                              mma::red_elem_row(el))];
            part[size_t(m * TILES * TO + jj)] = s;
          }
        }
        for (int jj = 0; jj < TILES * TO; ++jj) {
          const int tt = jj / TO, el = jj % TO;
          const int64_t n = row0 + 16 * mt + mma::red_elem_row(el);
          const int32_t s = s0 + tt * mma::kN + mma::red_elem_tok(el);
          if (n >= N || s >= s1) continue;
          ASSERT_FALSE(std::isnan(part[size_t(jj)])) << "reduction read an unwritten slot";
          const float sx = p.sx[act_row(s, g.order.data(), p.k, p.gathered)];
          float v[2];
          for (int m = 0; m < MATS; ++m) {
            const float* bias = p.bias[m] ? p.bias[m] + e * p.bias_stride : nullptr;
            v[m] = mma::epilogue_value(part[size_t(m * TILES * TO + jj)], sx, sw_of(*p.w[m], mat_scale(*p.w[m], e), n),
                                       bias, n);
          }
          p.y[size_t(s) * size_t(p.ldy) + size_t(n)] =
              MATS == 2 ? expert_act(v[0], v[1], p.act, p.alpha, p.limit) : v[0];
        }
      }
    }
}

void replay_fp8_tiles(int tiles, const GemmIn& p, int32_t P, int32_t E, bool two) {
  switch (tiles * 2 + (two ? 1 : 0)) {
    case 2: replay_fp8<1, 1>(p, P, E); break;
    case 3: replay_fp8<1, 2>(p, P, E); break;
    case 4: replay_fp8<2, 1>(p, P, E); break;
    case 5: replay_fp8<2, 2>(p, P, E); break;
    case 8: replay_fp8<4, 1>(p, P, E); break;
    case 9: replay_fp8<4, 2>(p, P, E); break;
    case 16: replay_fp8<8, 1>(p, P, E); break;
    default: replay_fp8<8, 2>(p, P, E); break;
  }
}

// The same outputs from the kernel's arithmetic written plainly: per warp w
// (chunks c = w mod kWarps, ascending), each chunk as the two MMAs sum it
// (k slots in order, in double: C + the 32 products, rounded), promoted into
// the FP32 accumulator; the warps added in order; the epilogue.
float plain_fp8(const GemmIn& p, int m, int32_t e, int32_t s, int64_t n) {
  const Weight& w = *p.w[m];
  constexpr int W = GemmCfg<1, 2>::kWarps;
  static_assert(W == GemmCfg<8, 1>::kWarps && W == GemmCfg<4, 2>::kWarps, "one warp count for every variant");
  const int64_t nk = (w.cols + 63) / 64;
  const uint8_t* xr = p.xq + act_row(s, p.g->order.data(), p.k, p.gathered) * p.ldx;
  const uint8_t* wr = mat_base(w, e) + n * w.row_stride;
  const float* sc = mat_scale(w, e);
  const bool e5m2 = w.dtype == DType::E5M2;
  float accw[W] = {};
  for (int64_t c = 0; c < nk; ++c) {
    float t = 0.0f;
    for (int h = 0; h < 2; ++h) {
      double d = t;
      for (int sl = 0; sl < 32; ++sl) {
        const int64_t kb = c * 64 + mma::slot_k(h, sl);
        d += double(mma::fp8_value(wr[kb], e5m2)) * ggf8::e4m3_to_f32(xr[kb]);
      }
      t = float(d);
    }
    float& a = accw[c % W];
    if (w.scale_kind == ScaleKind::Block) {
      const int64_t sc_cols = w.scale_cols;
      a = std::fma(t, sc[(n / w.block_rows) * sc_cols + (c * 64) / w.block_cols], a);
    } else {
      a += t;
    }
  }
  float sum = 0.0f;
  for (int i = 0; i < W; ++i) sum += accw[i];
  const float* bias = p.bias[m] ? p.bias[m] + e * p.bias_stride : nullptr;
  return mma::epilogue_value(sum, p.sx[act_row(s, p.g->order.data(), p.k, p.gathered)], sw_of(w, sc, n), bias, n);
}

// ---- moe_gemm_wonly, replayed -----------------------------------------------------------------
void decode16(const uint8_t* p, DType dt, float* f) {
  const int n = 16 / int(ggf8::dtype_size(dt));
  for (int j = 0; j < n; ++j) f[j] = f8backend::cpu::load_elem(p, dt, j);
}

template <int MATS>
void replay_wonly(const GemmIn& p, int32_t P, int32_t E) {
  constexpr int kW = 8, kU = 2, kTok = 8, KS = 1024, R = 2 / MATS;
  const Group& g = *p.g;
  const Weight& w0 = *p.w[0];
  const int64_t esz = int64_t(ggf8::dtype_size(w0.dtype)), EPL = 16 / esz, STEP = 32 * EPL;
  const int64_t N = w0.rows, K = w0.cols, Kp = (K + EPL - 1) / EPL * EPL;
  const bool block = w0.scale_kind == ScaleKind::Block;
  const int64_t bx = (N + kW * R - 1) / (kW * R);
  for (int64_t b = 0; b < bx; ++b)
    for (int32_t jt = 0; jt < max_tiles(P, E, kTok); ++jt) {
      if (jt >= g.n_tiles) continue;
      const int32_t e = g.tile_e[size_t(jt)], s0 = g.tile_s0[size_t(jt)];
      const int32_t ntok = tile_end(s0, kTok, g.offsets[size_t(e) + 1]) - s0;
      int64_t xrow[kTok];
      for (int t = 0; t < kTok; ++t) xrow[t] = t < ntok ? act_row(s0 + t, g.order.data(), p.k, p.gathered) : 0;
      std::vector<float> acc(size_t(kW) * 32 * 2 * kTok, 0.0f), xs(size_t(kTok) * KS);
      auto A = [&](int w, int lane, int q, int t) -> float& { return acc[size_t(((w * 32 + lane) * 2 + q) * kTok + t)]; };
      for (int64_t k0 = 0; k0 < Kp; k0 += KS) {
        const int64_t klen = std::min<int64_t>(Kp - k0, KS);
        for (int t = 0; t < kTok; ++t)
          for (int64_t kk = 0; kk < klen; ++kk)
            xs[size_t(t * KS + kk)] = (t < ntok && k0 + kk < K) ? p.xf[xrow[t] * p.ldx + k0 + kk] : 0.0f;
        for (int w = 0; w < kW; ++w)
          for (int lane = 0; lane < 32; ++lane)
            for (int64_t kb = lane * EPL; kb < klen; kb += STEP * kU)
              for (int u = 0; u < kU; ++u) {
                const int64_t kk = kb + u * STEP;
                if (kk >= klen) continue;
                for (int q = 0; q < 2; ++q) {
                  const int m = q / R, r = q % R;
                  const int64_t n = std::min(b * kW * R + w * R + r, N - 1);
                  float wf[8];
                  decode16(mat_base(*p.w[m], e) + (n * p.w[m]->row_stride + k0 + kk) * esz, w0.dtype, wf);
                  const float sb = block ? mat_scale(*p.w[m], e)[(n / w0.block_rows) * w0.scale_cols +
                                                                 (k0 + kk) / w0.block_cols]
                                         : 1.0f;
                  for (int t = 0; t < kTok; ++t) {
                    float part = 0.0f;
                    for (int64_t j = 0; j < EPL; ++j) part = std::fma(wf[j], xs[size_t(t * KS + kk + j)], part);
                    float& a = A(w, lane, q, t);
                    a = block ? std::fma(part, sb, a) : a + part;
                  }
                }
              }
      }
      for (int w = 0; w < kW; ++w)
        for (int q = 0; q < 2; ++q)
          for (int t = 0; t < kTok; ++t) {
            float v[32];
            for (int lane = 0; lane < 32; ++lane) v[lane] = A(w, lane, q, t);
            for (int off = 16; off > 0; off >>= 1) {
              float nx[32];
              for (int lane = 0; lane < 32; ++lane) nx[lane] = v[lane] + v[lane ^ off];
              std::copy(nx, nx + 32, v);
            }
            for (int lane = 0; lane < 32; ++lane) A(w, lane, q, t) = v[lane];
          }
      for (int w = 0; w < kW; ++w)
        for (int r = 0; r < R; ++r)
          for (int t = 0; t < kTok; ++t) {
            const int64_t n = b * kW * R + w * R + r;
            if (n >= N || t >= ntok) continue;
            float v[2];
            for (int m = 0; m < MATS; ++m) {
              v[m] = fmul(A(w, r * kTok + t, m * R + r, t), sw_of(*p.w[m], mat_scale(*p.w[m], e), n));
              if (p.bias[m]) v[m] = fadd(v[m], p.bias[m][e * p.bias_stride + n]);
            }
            p.y[size_t(s0 + t) * size_t(p.ldy) + size_t(n)] =
                MATS == 2 ? expert_act(v[0], v[1], p.act, p.alpha, p.limit) : v[0];
          }
    }
}

// ---- the whole layer ----------------------------------------------------------------------------
struct LayerRun {
  std::vector<float> y;
  std::vector<float> A, O;  // the slots' activations and expert outputs
  Group g;
  std::vector<uint8_t> xq, aq;
  std::vector<float> sx, asx;
};

// CudaMoe::ffn's sequence on the device images (tiles 0: the host's choice).
LayerRun replay_layer(const MoeExperts& d, const float* x, int32_t T, const std::vector<int32_t>& ids,
                      const std::vector<float>& w, int32_t k, int tiles = 0) {
  const int32_t E = d.gate.n_mats, P = T * k;
  const int64_t F = d.gate.rows, H = d.gate.cols;
  const bool f_gu = fp8(d.gate.dtype), f_dn = fp8(d.down.dtype);
  if (!(f_gu && f_dn)) tiles = 1;
  else if (!tiles) tiles = tiles_for_pairs(P, E);
  LayerRun r;
  r.g = replay_group(ids, E, 8 * tiles);
  r.A.assign(size_t(P * F), std::nanf(""));
  r.O.assign(size_t(P * H), std::nanf(""));
  const int32_t act = d.act == MoeAct::SwiGLUOss ? kSwiGLUOss : kSwiGLU;
  GemmIn gu{&r.g, k, true, {&d.gate, &d.up}, {static_cast<const float*>(d.gate_b.data),
            static_cast<const float*>(d.up_b.data)}, d.fb_stride ? d.fb_stride : F, nullptr, nullptr, nullptr, 0,
            act, d.alpha, d.limit, r.A.data(), F};
  if (f_gu) {
    const int64_t ldx = (H + 63) / 64 * 64;
    quantize_rows(x, T, H, ldx, &r.xq, &r.sx);
    gu.xq = r.xq.data();
    gu.sx = r.sx.data();
    gu.ldx = ldx;
    replay_fp8_tiles(tiles, gu, P, E, true);
  } else {
    gu.xf = x;
    gu.ldx = H;
    replay_wonly<2>(gu, P, E);
  }
  GemmIn dn{&r.g, k, false, {&d.down, nullptr}, {static_cast<const float*>(d.down_b.data), nullptr}, H, nullptr,
            nullptr, nullptr, 0, act, d.alpha, d.limit, r.O.data(), H};
  if (f_dn) {
    const int64_t ldx = (F + 63) / 64 * 64;
    quantize_rows(r.A.data(), P, F, ldx, &r.aq, &r.asx);
    dn.xq = r.aq.data();
    dn.sx = r.asx.data();
    dn.ldx = ldx;
    replay_fp8_tiles(tiles, dn, P, E, false);
  } else {
    dn.xf = r.A.data();
    dn.ldx = F;
    replay_wonly<1>(dn, P, E);
  }
  r.y.assign(size_t(T * H), std::nanf(""));
  for (int32_t t = 0; t < T; ++t) {
    int32_t sl[kMaxK];
    float ws[kMaxK];
    for (int32_t j = 0; j < k; ++j) {
      sl[j] = r.g.slot_of[size_t(t * k + j)];
      ws[j] = w[size_t(t * k + j)];
    }
    sort_by_slot(sl, ws, k);
    for (int64_t h = 0; h < H; ++h) {
      float acc = 0.0f;
      for (int32_t q = 0; q < k; ++q) acc = combine_step(acc, ws[q], r.O[size_t(sl[q] * H + h)]);
      r.y[size_t(t * H + h)] = acc;
    }
  }
  return r;
}

std::vector<float> ref_ffn(const MoeExperts& h, const std::vector<float>& x, int32_t T, const std::vector<int32_t>& ids,
                           const std::vector<float>& w, int32_t k) {
  static std::unique_ptr<Backend> ref = make("cpu-ref");
  auto s = stream(*ref, 1, std::max(T, 1), 4096);
  std::vector<float> y(size_t(T) * h.gate.cols, -1.0f);
  s->moe_ffn(x.data(), T, h, ids.data(), w.data(), k, y.data(), ActQuant::DynamicToken);
  return y;
}


}  // namespace

// The FP8 replay is the kernel's arithmetic, bit for bit (A and O of every slot).
TEST(CudaMoeReplay, Fp8GemmReplayIsTheKernelArithmetic) {
  uint32_t seed = 11;
  for (DType dt : {DType::E4M3, DType::E5M2})
    for (ScaleKind sk : {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block})
      for (int tiles : {1, 2, 4, 8}) {
        LayerSpec sp;
        sp.dt = dt;
        sp.sk = sk;
        sp.H = 64 * 9 + 8;  // more chunks than warps: several per warp
        sp.biases = tiles % 2 == 0;
        sp.act = tiles == 4 ? MoeAct::SwiGLUOss : MoeAct::SwiGLU;
        SCOPED_TRACE(spec_name(sp) + " tiles " + std::to_string(tiles));
        Layer L = make_layer(sp, seed += 7);
        build_device(L);
        const int32_t T = 9, k = 3;
        std::vector<int32_t> ids;
        std::vector<float> w;
        route_tokens(T, sp.E, k, seed, &ids, &w);
        const auto x = randn(size_t(T * sp.H), seed + 1, 0.3f);
        const LayerRun r = replay_layer(L.dev, x.data(), T, ids, w, k, tiles);
        const int32_t P = T * k;
        // gate+up (with the activation) and down, every slot and row.
        GemmIn gu{&r.g, k, true, {&L.dev.gate, &L.dev.up}, {static_cast<const float*>(L.dev.gate_b.data),
                  static_cast<const float*>(L.dev.up_b.data)}, L.dev.fb_stride, r.xq.data(), r.sx.data(), nullptr,
                  (sp.H + 63) / 64 * 64, 0, 0, 0, nullptr, 0};
        GemmIn dn{&r.g, k, false, {&L.dev.down, nullptr}, {static_cast<const float*>(L.dev.down_b.data), nullptr},
                  sp.H, r.aq.data(), r.asx.data(), nullptr, (sp.F + 63) / 64 * 64, 0, 0, 0, nullptr, 0};
        const int32_t act = sp.act == MoeAct::SwiGLUOss ? kSwiGLUOss : kSwiGLU;
        int bad = 0;
        for (int32_t s = 0; s < P; ++s) {
          int32_t e = 0;
          while (r.g.offsets[size_t(e) + 1] <= s) ++e;
          for (int64_t n = 0; n < sp.F; ++n) {
            const float want = expert_act(plain_fp8(gu, 0, e, s, n), plain_fp8(gu, 1, e, s, n), act, 1.702f, 7.0f);
            if (std::memcmp(&want, &r.A[size_t(s * sp.F + n)], 4) != 0 && ++bad <= 3)
              ADD_FAILURE() << "A slot " << s << " row " << n << ": " << r.A[size_t(s * sp.F + n)] << " vs " << want;
          }
          for (int64_t n = 0; n < sp.H; ++n) {
            const float want = plain_fp8(dn, 0, e, s, n);
            if (std::memcmp(&want, &r.O[size_t(s * sp.H + n)], 4) != 0 && ++bad <= 3)
              ADD_FAILURE() << "O slot " << s << " row " << n << ": " << r.O[size_t(s * sp.H + n)] << " vs " << want;
          }
        }
        EXPECT_EQ(bad, 0);
      }
}


namespace {
struct Stats {
  double worst = 0;
  std::string what;
  void add(double e, const std::string& w) {
    if (e > worst) worst = e, what = w;
  }
};
// The layer against cpu-ref: FP32 accumulation vs double, and a slot's
// activation may quantize to the neighbouring E4M3 code (then one term of
// the down projection moves by up to half a code step).
void expect_layer_close(const std::vector<float>& got, const std::vector<float>& want, double nmse_max,
                        const std::string& what, Stats* st) {
  for (float v : got) ASSERT_FALSE(std::isnan(v)) << what << ": an output was never written";
  const double e = nmse(got, want);
  st->add(e, what);
  EXPECT_LT(e, nmse_max) << what;
}
}  // namespace

TEST(CudaMoeReplay, Fp8LayerMatchesCpuRef) {
  Stats st;
  uint32_t seed = 100;
  const LayerSpec base;
  std::vector<LayerSpec> specs;
  for (DType dt : {DType::E4M3, DType::E5M2})
    for (ScaleKind sk : {ScaleKind::None, ScaleKind::Tensor, ScaleKind::Channel, ScaleKind::Block})
      for (int v = 0; v < 2; ++v) {
        LayerSpec sp = base;
        sp.dt = dt;
        sp.sk = sk;
        sp.biases = v == 1;
        sp.act = (v == 1) == (dt == DType::E4M3) ? MoeAct::SwiGLUOss : MoeAct::SwiGLU;
        specs.push_back(sp);
      }
  LayerSpec big = base;  // 128x128 blocks, several experts per tile size
  big.E = 16;
  big.H = 256;
  big.F = 128;
  big.sk = ScaleKind::Block;
  big.br = big.bc = 128;
  big.biases = true;
  specs.push_back(big);
  for (const LayerSpec& sp : specs) {
    Layer L = make_layer(sp, seed += 13);
    build_device(L);
    for (int32_t k : {1, 2, 4})
      for (int32_t T : {1, 5, 19, 40}) {
        if (k > sp.E) continue;
        const std::string what = spec_name(sp) + " E " + std::to_string(sp.E) + " k " + std::to_string(k) + " T " +
                                 std::to_string(T);
        SCOPED_TRACE(what);
        std::vector<int32_t> ids;
        std::vector<float> w;
        route_tokens(T, sp.E, k, seed + uint32_t(T), &ids, &w);
        const auto x = randn(size_t(T * sp.H), seed + 2 + uint32_t(T), 0.3f);
        const auto want = ref_ffn(L.host, x, T, ids, w, k);
        const LayerRun r = replay_layer(L.dev, x.data(), T, ids, w, k);
        expect_layer_close(r.y, want, 1e-5, what, &st);
      }
  }
  std::printf("[ info ] FP8 MoE layer replay vs cpu-ref: worst NMSE %.3g (%s)\n", st.worst, st.what.c_str());
}

TEST(CudaMoeReplay, WeightOnlyLayerMatchesCpuRef) {
  Stats st;
  uint32_t seed = 300;
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (ScaleKind sk : {ScaleKind::None, ScaleKind::Channel, ScaleKind::Block})
      for (bool biases : {false, true}) {
        LayerSpec sp;
        sp.dt = dt;
        sp.sk = sk;
        sp.bc = 64;
        sp.H = 1100;  // two staged K slices
        sp.biases = biases;
        sp.act = biases ? MoeAct::SwiGLUOss : MoeAct::SwiGLU;
        Layer L = make_layer(sp, seed += 5);
        build_device(L);
        for (int32_t T : {1, 11}) {
          const int32_t k = 2;
          const std::string what = spec_name(sp) + " T " + std::to_string(T);
          SCOPED_TRACE(what);
          std::vector<int32_t> ids;
          std::vector<float> w;
          route_tokens(T, sp.E, k, seed + uint32_t(T), &ids, &w);
          const auto x = randn(size_t(T * sp.H), seed + 9 + uint32_t(T), 0.3f);
          const auto want = ref_ffn(L.host, x, T, ids, w, k);
          const LayerRun r = replay_layer(L.dev, x.data(), T, ids, w, k);
          expect_layer_close(r.y, want, 1e-11, what, &st);
          double rr = 0;
          for (float v : want) rr += double(v) * v;
          rr = std::sqrt(rr / double(want.size()));
          expect_close(r.y, want, float(1e-5 * rr + 1e-30), 1e-4f, what);
        }
      }
  std::printf("[ info ] weight-only MoE layer replay vs cpu-ref: worst NMSE %.3g (%s)\n", st.worst, st.what.c_str());
}

// A token's output does not depend on the batch it came in, nor on the token
// tiles the host picked for the call: the same bits every time.
TEST(CudaMoeReplay, ResultsDoNotDependOnBatchOrTileSize) {
  LayerSpec sp;
  sp.E = 8;
  sp.biases = true;
  Layer L = make_layer(sp, 77);
  build_device(L);
  const int32_t T = 21, k = 3;
  std::vector<int32_t> ids;
  std::vector<float> w;
  route_tokens(T, sp.E, k, 78, &ids, &w);
  const auto x = randn(size_t(T * sp.H), 79, 0.3f);
  const std::vector<float> y1 = replay_layer(L.dev, x.data(), T, ids, w, k, 1).y;
  for (int tiles : {2, 4, 8}) {
    const std::vector<float> yt = replay_layer(L.dev, x.data(), T, ids, w, k, tiles).y;
    EXPECT_EQ(0, std::memcmp(yt.data(), y1.data(), y1.size() * 4)) << "tiles " << tiles;
  }
  for (int32_t t = 0; t < T; t += 4) {
    const std::vector<int32_t> it(ids.begin() + t * k, ids.begin() + (t + 1) * k);
    const std::vector<float> wt(w.begin() + t * k, w.begin() + (t + 1) * k);
    const std::vector<float> ya = replay_layer(L.dev, x.data() + size_t(t) * sp.H, 1, it, wt, k).y;
    EXPECT_EQ(0, std::memcmp(ya.data(), y1.data() + size_t(t) * sp.H, size_t(sp.H) * 4)) << "token " << t;
  }
}

// Tensor parallel (src/model/tp.cpp): rank r of 2 takes rows [r F/2, ...) of
// every expert's gate/up and those columns of its down (the full stack's row
// stride and mat_stride kept; channel scales advanced, block scales by whole
// blocks; gate/up biases advanced with the full fb_stride; down biases on
// rank 0 only). Uploaded and replayed, each rank's slice matches cpu-ref on
// the same slice.
TEST(CudaMoeReplay, TensorParallelSlicesOfTheStacks) {
  Stats st;
  for (ScaleKind sk : {ScaleKind::Channel, ScaleKind::Block, ScaleKind::Tensor})
    for (DType dt : {DType::E4M3, DType::BF16}) {
      if (dt == DType::BF16 && sk == ScaleKind::Tensor) continue;
      LayerSpec sp;
      sp.E = 5;
      sp.H = 192;
      sp.F = 256;
      sp.dt = dt;
      sp.sk = sk;
      sp.br = 64;
      sp.bc = 64;
      sp.biases = true;
      Layer full = make_layer(sp, 900 + uint32_t(sk) * 10 + uint32_t(dt));
      for (int32_t rank = 0; rank < 2; ++rank) {
        const int64_t f0 = rank * sp.F / 2, fn = sp.F / 2;
        Layer L = full;  // copies the stacks
        const MoeExperts v = L.view();  // views of this copy
        const Weight g = v.gate, u = v.up, d = v.down;
        const size_t es = ggf8::dtype_size(dt);
        auto rows = [&](Weight w) {
          w.data = static_cast<const uint8_t*>(w.data) + f0 * w.stride() * int64_t(es);
          w.row_stride = w.stride();
          w.rows = fn;
          if (sk == ScaleKind::Channel) w.scale += f0;
          if (sk == ScaleKind::Block) {
            const int64_t sc = (w.cols + w.block_cols - 1) / w.block_cols;
            w.scale += (f0 / w.block_rows) * sc;
            w.scale_cols = sc;
          }
          return w;
        };
        auto cols = [&](Weight w) {
          if (sk == ScaleKind::Block) {
            w.scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;  // of the full matrix
            w.scale += f0 / w.block_cols;
          }
          w.data = static_cast<const uint8_t*>(w.data) + f0 * int64_t(es);
          w.row_stride = w.stride();
          w.cols = fn;
          return w;
        };
        L.host.gate = rows(g);
        L.host.up = rows(u);
        L.host.down = cols(d);
        L.host.gate_b = {L.gb.data() + f0, DType::F32};
        L.host.up_b = {L.ub.data() + f0, DType::F32};
        L.host.fb_stride = sp.F;
        L.host.down_b = rank == 0 ? Bias{L.db.data(), DType::F32} : Bias{};
        build_device(L);
        const int32_t T = 13, k = 2;
        std::vector<int32_t> ids;
        std::vector<float> w;
        route_tokens(T, sp.E, k, 901, &ids, &w);
        const auto x = randn(size_t(T * sp.H), 902, 0.3f);
        const std::string what = std::string(ggf8::dtype_name(dt)) + "/" + ggf8::scale_kind_name(sk) + " rank " +
                                 std::to_string(rank);
        SCOPED_TRACE(what);
        const auto want = ref_ffn(L.host, x, T, ids, w, k);
        const LayerRun r = replay_layer(L.dev, x.data(), T, ids, w, k);
        expect_layer_close(r.y, want, fp8(dt) ? 1e-5 : 1e-11, what, &st);
      }
    }
  std::printf("[ info ] tensor-parallel slices: worst NMSE %.3g (%s)\n", st.worst, st.what.c_str());
}
