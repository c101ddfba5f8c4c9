// test_cuda_fmha_layout.cpp — the FP8 FMHA kernel (kernels/fmha_fp8.cu)
// replayed on the CPU, no GPU needed: Q as two E4M3 terms, the shared-memory staging of K and of
// V (transposed 4x4 in registers with byte permutes), every lane's fragment
// loads and the k-permuted register assembly (kernels/fmha_tile.h), an
// emulated mma.sync.m16n8k32 per the PTX ISA fragment layouts
// (kernels/mma_fp8.h), the per-row online softmax across the 4 lanes of a
// row, the P tile round trip through shared memory, the walk over the page
// tables of several sequences in one tile and the output mapping — against
// the CPU emulation (cpu/fmha_emul.cpp) that --emulate-gpu runs.
#include "backend_test_util.h"

#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_common.h"
#include "kernels/fmha_tile.h"

using namespace f8test;
namespace fm = f8k::fmha;
namespace mm = f8k::mma;

namespace {

TEST(CudaFmhaLayout, Transpose4x4) {
  uint32_t in[4], out[4];
  for (int k = 0; k < 4; ++k) in[k] = 0x03020100u + 0x10101010u * k;  // byte d of key k = 16 k + d
  fm::transpose4x4(in, out);
  for (int d = 0; d < 4; ++d)
    for (int k = 0; k < 4; ++k) EXPECT_EQ((out[d] >> (8 * k)) & 0xFF, 16u * k + d) << d << " " << k;
}

TEST(CudaFmhaLayout, SmemRegionsDisjointAndAligned) {
  auto check = [](auto tag) {
    using L = decltype(tag);
    EXPECT_EQ(L::kLdq % 128, 64);
    EXPECT_EQ(L::kK % 16, 0);
    EXPECT_EQ(L::kVt % 16, 0);
    EXPECT_EQ(L::kP % 16, 0);
    EXPECT_EQ(L::kSeqs % 8, 0);
    EXPECT_LE(L::kBytes, 227 * 1024);  // sm_90 opt-in maximum per block
  };
  check(fm::Smem<64>{});
  check(fm::Smem<128>{});
  check(fm::Smem<256>{});
  // Quarter-warp bank coverage of the 16-byte K fragment loads (lanes 0..7,
  // 8..15, ...): 8 loads x 4 banks = all 32 banks once.
  for (int q = 0; q < 4; ++q) {
    std::set<int> banks;
    for (int lane = 8 * q; lane < 8 * q + 8; ++lane) {
      const int off = fm::k_frag_offset<128>(lane, 0, 0);
      for (int b = 0; b < 4; ++b) banks.insert((off / 4 + b) % 32);
    }
    EXPECT_EQ(banks.size(), 32u) << "quarter " << q;
  }
}

// One block (head h, query rows [t0, t0 + 64)) of the kernel, on the CPU.
template <int D>
void replay_block(const cpu::CpuKVCache& c, const float* q, const AttnBatch& b, int h, int t0, float* out) {
  using L = fm::Smem<D>;
  constexpr int KC = D / 64, DT = D / 8;
  std::vector<uint8_t> sm(L::kBytes + 16, 0);
  auto& cm = const_cast<cpu::CpuKVCache&>(c);
  const auto& kp = c.params();
  const int H = b.n_heads, T = b.n_tokens, kvh = h / (H / kp.n_kv_heads);
  const KvCells& kc = c.bookkeeping();

  float row_qs[2][4][32][2];  // [term][warp][lane][slot]
  for (int w = 0; w < 4; ++w)
    for (int rr = 0; rr < 16; ++rr) {
      const int r = w * 16 + rr, t = t0 + r;
      std::vector<float> x(D, 0.0f);
      if (t < T) std::memcpy(x.data(), q + (size_t(t) * H + h) * D, D * 4);
      float amax = 0, ramax = 0;
      for (int d = 0; d < D; ++d) amax = std::max(amax, std::fabs(x[d]));
      const float qs = fm::q_scale(amax);
      for (int d = 0; d < D; ++d) {
        const uint8_t hi = fm::q_code(x[d], qs);
        sm[fm::q_index<D>(0, r, d)] = hi;
        x[d] = fm::q_residual(x[d], hi, qs);
        ramax = std::max(ramax, std::fabs(x[d]));
      }
      const float rs = fm::q_scale(ramax);
      for (int d = 0; d < D; ++d) sm[fm::q_index<D>(1, r, d)] = fm::q_code(x[d], rs);
      for (int lane = 0; lane < 32; ++lane)
        for (int sl = 0; sl < 2; ++sl)
          if (rr == mm::group_id(lane) + 8 * sl) row_qs[0][w][lane][sl] = qs, row_qs[1][w][lane][sl] = rs;
    }
  static uint32_t qa[2][4][KC][2][32][4];  // [term][warp][chunk][mma][lane][word]
  int row_seq[4][32][2], row_pos[4][32][2];
  float rmul[2][4][32][2];
  const float kmul = fm::k_mul(b.scale, c.k_scale(0));
  uint64_t mask = 0;
  int pmin = INT32_MAX, pmax = -1;
  for (int w = 0; w < 4; ++w)
    for (int lane = 0; lane < 32; ++lane) {
      for (int term = 0; term < 2; ++term)
        for (int kcn = 0; kcn < KC; ++kcn) {
          uint32_t wa[4], wb[4];
          fm::ld16(sm.data() + fm::q_frag_offset<D>(w, lane, 0, kcn, term), wa);
          fm::ld16(sm.data() + fm::q_frag_offset<D>(w, lane, 1, kcn, term), wb);
          mm::assemble_a(wa, wb, 0, qa[term][w][kcn][0][lane]);
          mm::assemble_a(wa, wb, 1, qa[term][w][kcn][1][lane]);
        }
      for (int sl = 0; sl < 2; ++sl) {
        const int t = t0 + w * 16 + mm::group_id(lane) + 8 * sl;
        row_seq[w][lane][sl] = t < T ? b.seq[t] : -1;
        row_pos[w][lane][sl] = t < T ? b.pos[t] : -1;
        rmul[0][w][lane][sl] = fm::row_mul(row_qs[0][w][lane][sl], kmul);
        rmul[1][w][lane][sl] = fm::row_mul(row_qs[1][w][lane][sl], kmul);
        if (row_seq[w][lane][sl] >= 0) {
          mask |= uint64_t{1} << row_seq[w][lane][sl];
          pmin = std::min(pmin, row_pos[w][lane][sl]);
          pmax = std::max(pmax, row_pos[w][lane][sl]);
        }
      }
    }
  static float m[4][32][2], l[4][32][2], acc[4][DT][32][4];
  for (int w = 0; w < 4; ++w)
    for (int lane = 0; lane < 32; ++lane) {
      m[w][lane][0] = m[w][lane][1] = -INFINITY;
      l[w][lane][0] = l[w][lane][1] = 0;
      for (int j = 0; j < DT; ++j)
        for (int i = 0; i < 4; ++i) acc[w][j][lane][i] = 0;
    }
  auto* s_pos = reinterpret_cast<int32_t*>(sm.data() + L::kPos);
  auto* s_seqs = reinterpret_cast<uint64_t*>(sm.data() + L::kSeqs);
  while (mask) {
    const int sq = __builtin_ctzll(mask);
    mask &= mask - 1;
    for (int pg : kc.seq_pages(sq)) {
      const auto& ps = kc.pages()[pg];
      if (ps.pos_min > pmax || (b.window > 0 && int64_t(ps.pos_max) <= int64_t(pmin) - b.window)) continue;
      const int c0 = pg * fm::kPage;
      for (int vi = 0; vi < fm::kPage * D / 16; ++vi) {
        const int key = fm::stage_key(vi, D), d0 = fm::stage_dim0(vi, D), cell = c0 + key;
        uint8_t buf[16] = {};
        if (cell < kp.n_cells) std::memcpy(buf, cm.k_row(0, cell) + kvh * D + d0, 16);
        std::memcpy(sm.data() + L::kK + key * L::kLdq + d0, buf, 16);
      }
      for (int vi = 0; vi < fm::kPage / 4 * D / 16; ++vi) {
        const int k0 = fm::vstage_key0(vi, D), d0 = fm::vstage_dim0(vi, D);
        uint32_t rw[4][4] = {};
        for (int k = 0; k < 4; ++k)
          if (c0 + k0 + k < kp.n_cells) std::memcpy(rw[k], cm.v_row(0, c0 + k0 + k) + kvh * D + d0, 16);
        for (int wd = 0; wd < 4; ++wd) {
          const uint32_t in[4] = {rw[0][wd], rw[1][wd], rw[2][wd], rw[3][wd]};
          uint32_t tr[4];
          fm::transpose4x4(in, tr);
          for (int r = 0; r < 4; ++r) std::memcpy(sm.data() + L::kVt + fm::vt_index<D>(k0, d0 + 4 * wd + r), &tr[r], 4);
        }
      }
      for (int k = 0; k < fm::kPage; ++k) {
        const int cell = c0 + k;
        s_pos[k] = cell < kp.n_cells ? c.cells()[cell].pos : -1;
        s_seqs[k] = cell < kp.n_cells ? c.cells()[cell].seqs : 0;
      }
      for (int w = 0; w < 4; ++w) {
        float s[8][32][4] = {}, slo[8][32][4] = {};
        for (int j = 0; j < 8; ++j)
          for (int kcn = 0; kcn < KC; ++kcn)
            for (int hh = 0; hh < 2; ++hh) {
              uint32_t bf[32][2];
              for (int lane = 0; lane < 32; ++lane) {
                uint32_t xb[4];
                fm::ld16(sm.data() + fm::k_frag_offset<D>(lane, j, kcn), xb);
                mm::assemble_b(xb, hh, bf[lane]);
              }
              float d[32][4];
              mm::emulate_mma_m16n8k32(qa[0][w][kcn][hh], bf, s[j], d, false);
              std::memcpy(s[j], d, sizeof d);
              mm::emulate_mma_m16n8k32(qa[1][w][kcn][hh], bf, slo[j], d, false);
              std::memcpy(slo[j], d, sizeof d);
            }
        float mb[32][2];
        for (int lane = 0; lane < 32; ++lane) {
          mb[lane][0] = mb[lane][1] = -INFINITY;
          for (int j = 0; j < 8; ++j)
            for (int i = 0; i < 4; ++i) {
              const int sl = fm::acc_row_slot(i), key = 8 * j + mm::c_col(lane, i);
              const bool vis = row_seq[w][lane][sl] == sq &&
                               f8k::attn::visible(s_seqs[key], s_pos[key], sq, row_pos[w][lane][sl], b.window);
              s[j][lane][i] = vis ? fm::score(s[j][lane][i], slo[j][lane][i], rmul[0][w][lane][sl],
                                              rmul[1][w][lane][sl], b.softcap)
                                  : -INFINITY;
              mb[lane][sl] = std::max(mb[lane][sl], s[j][lane][i]);
            }
        }
        float red[32][2];  // the two xor shuffles: max over the 4 lanes of a row
        for (int lane = 0; lane < 32; ++lane)
          for (int sl = 0; sl < 2; ++sl) red[lane][sl] = std::max(mb[lane][sl], mb[lane ^ 1][sl]);
        for (int lane = 0; lane < 32; ++lane)
          for (int sl = 0; sl < 2; ++sl) mb[lane][sl] = std::max(red[lane][sl], red[lane ^ 2][sl]);
        for (int lane = 0; lane < 32; ++lane) {
          float corr[2];
          for (int sl = 0; sl < 2; ++sl) {
            const float mn = std::max(m[w][lane][sl], mb[lane][sl]);
            corr[sl] = f8k::attn::rescale(m[w][lane][sl], mn);
            m[w][lane][sl] = mn;
            l[w][lane][sl] *= corr[sl];
          }
          for (int j = 0; j < DT; ++j)
            for (int i = 0; i < 4; ++i) acc[w][j][lane][i] *= corr[fm::acc_row_slot(i)];
          for (int j = 0; j < 8; ++j)
            for (int i = 0; i < 4; ++i) {
              const int sl = fm::acc_row_slot(i);
              const uint8_t p8 = fm::p_code(s[j][lane][i], m[w][lane][sl]);
              l[w][lane][sl] += fm::p_value(p8);
              sm[fm::p_index<D>(w, mm::c_row(lane, i), 8 * j + mm::c_col(lane, i))] = p8;
            }
        }
        uint32_t pa[2][32][4];
        for (int lane = 0; lane < 32; ++lane) {
          uint32_t wa[4], wb[4];
          fm::ld16(sm.data() + fm::p_frag_offset<D>(w, lane, 0), wa);
          fm::ld16(sm.data() + fm::p_frag_offset<D>(w, lane, 1), wb);
          mm::assemble_a(wa, wb, 0, pa[0][lane]);
          mm::assemble_a(wa, wb, 1, pa[1][lane]);
        }
        for (int j = 0; j < DT; ++j)
          for (int hh = 0; hh < 2; ++hh) {
            uint32_t bf[32][2];
            for (int lane = 0; lane < 32; ++lane) {
              uint32_t xb[4];
              fm::ld16(sm.data() + fm::vt_frag_offset<D>(lane, j), xb);
              mm::assemble_b(xb, hh, bf[lane]);
            }
            float d[32][4];
            mm::emulate_mma_m16n8k32(pa[hh], bf, acc[w][j], d, false);
            std::memcpy(acc[w][j], d, sizeof d);
          }
      }
    }
  }
  const float vs = c.v_scale(0);
  for (int w = 0; w < 4; ++w) {
    float la[32][2], lb[32][2], sk[32][2];
    for (int lane = 0; lane < 32; ++lane)
      for (int sl = 0; sl < 2; ++sl) la[lane][sl] = l[w][lane][sl] + l[w][lane ^ 1][sl];
    for (int lane = 0; lane < 32; ++lane)
      for (int sl = 0; sl < 2; ++sl) {
        lb[lane][sl] = la[lane][sl] + la[lane ^ 2][sl];
        sk[lane][sl] = 1.0f;  // gpt-oss sinks: folded into each row's (m, l) after the row sum
        if (b.sinks)
          sk[lane][sl] = f8k::attn::fold_sink(m[w][lane][sl], f8k::attn::sink_log2(b.sinks[h]), &lb[lane][sl],
                                              fm::kPScale);
      }
    for (int lane = 0; lane < 32; ++lane)
      for (int j = 0; j < DT; ++j)
        for (int i = 0; i < 4; ++i) {
          const int t = t0 + w * 16 + mm::c_row(lane, i);
          if (t < T)
            out[(size_t(t) * H + h) * D + 8 * j + mm::c_col(lane, i)] = f8k::attn::finalize(
                acc[w][j][lane][i] * sk[lane][fm::acc_row_slot(i)], lb[lane][fm::acc_row_slot(i)], vs);
        }
  }
}

template <int D>
void run_replay(int32_t window, float softcap, bool sinks = false) {
  auto be = make("cpu-ref");
  auto st = stream(*be, 1, 256, 4096);
  KVCacheParams p;
  p.n_layers = 1;
  p.n_cells = 600;  // not a multiple of 64: the last page is partial
  p.n_kv_heads = 2;
  p.head_dim = D;
  p.dtype = DType::E4M3;
  p.k_scale = {5.0f / 448.0f};
  p.v_scale = {3.0f / 448.0f};
  std::unique_ptr<KVCache> kv;
  ASSERT_TRUE(be->create_kv_cache(p, &kv).ok());
  // seq 0: 150 tokens, seq 1: 90, interleaved batches; seq 2 = fork of seq 0's first 100 + 20 own.
  std::vector<int32_t> seq, pos;
  for (int t = 0; t < 150; t += 40)
    for (int s = 0; s < 2; ++s)
      for (int i = t; i < std::min(t + 40, s ? 90 : 150); ++i) seq.push_back(s), pos.push_back(i);
  auto store = [&](std::vector<int32_t>& sq, std::vector<int32_t>& ps, uint32_t seed) {
    const int n = int(sq.size());
    std::vector<int32_t> cells(n);
    ASSERT_TRUE(kv->alloc_cells(n, sq.data(), ps.data(), cells.data()).ok());
    const auto k = randn(size_t(n) * 2 * D, seed, 1.2f), v = randn(size_t(n) * 2 * D, seed + 1);
    st->kv_store(*kv, 0, k.data(), v.data(), cells.data(), n);
  };
  store(seq, pos, 5);
  kv->seq_cp(0, 2, 0, 100);
  std::vector<int32_t> s2(20, 2), p2(20);
  for (int i = 0; i < 20; ++i) p2[i] = 100 + i;
  store(s2, p2, 9);
  // Query batch: 40 tokens of seq 0, 20 of seq 2, 10 of seq 1 (two tiles, the first mixed).
  std::vector<int32_t> qs, qp;
  for (int i = 110; i < 150; ++i) qs.push_back(0), qp.push_back(i);
  for (int i = 100; i < 120; ++i) qs.push_back(2), qp.push_back(i);
  for (int i = 80; i < 90; ++i) qs.push_back(1), qp.push_back(i);
  const int T = int(qs.size()), H = 4;
  const auto q = randn(size_t(T) * H * D, 17, 1.5f);
  AttnBatch ab;
  ab.n_tokens = T;
  ab.seq = qs.data();
  ab.pos = qp.data();
  ab.n_heads = H;
  ab.scale = 1.0f / std::sqrt(float(D));
  ab.window = window;
  ab.softcap = softcap;
  ab.fp8_fmha = true;
  const std::vector<float> sink = {2.5f, -1.0f, 0.0f, 40.0f};  // per head: near, below, at, far above the scores
  if (sinks) ab.sinks = sink.data();
  std::vector<float> want(size_t(T) * H * D), got(want.size(), NAN);
  st->attention(*kv, 0, q.data(), ab, want.data());
  const auto& cc = static_cast<const cpu::CpuKVCache&>(*kv);
  for (int h = 0; h < H; ++h)
    for (int t0 = 0; t0 < T; t0 += 64) replay_block<D>(cc, q.data(), ab, h, t0, got.data());
  double rms = 0, mx = 0;
  size_t same = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << i;
    rms += double(want[i]) * want[i];
    mx = std::max(mx, std::fabs(double(got[i]) - want[i]));
    same += got[i] == want[i];
  }
  rms = std::sqrt(rms / want.size());
  // FP32 accumulation order differs (an MMA rounds per 32 products, the
  // emulation once per row): outputs agree to ~1e-6 relative; an exp2 next
  // to an E4M3 boundary may move one P code (a few 1e-3 of the output).
  EXPECT_LT(mx, 1e-2 * rms) << "D " << D << " window " << window;
  EXPECT_GT(double(same) / want.size(), 0.5) << "D " << D;
  std::printf("D %d window %d softcap %.0f: max |kernel replay - emulation| = %.2e (output RMS %.3f), %.1f%% equal\n", D,
              window, softcap, mx, rms, 100.0 * same / want.size());
}

TEST(CudaFmhaLayout, ReplayMatchesEmulationD64) { run_replay<64>(0, 0.0f); }
TEST(CudaFmhaLayout, ReplayMatchesEmulationD128) { run_replay<128>(0, 0.0f); }
TEST(CudaFmhaLayout, ReplayMatchesEmulationD256) { run_replay<256>(0, 0.0f); }
TEST(CudaFmhaLayout, ReplayWindowAndSoftcap) { run_replay<128>(37, 30.0f); }
TEST(CudaFmhaLayout, ReplayWithSinks) { run_replay<64>(16, 0.0f, true); }

}  // namespace
