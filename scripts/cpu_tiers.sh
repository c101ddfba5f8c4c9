# cpu_tiers.sh — sourced by the CPU benchmark scripts: sets `tiers` to the
# cpu-simd tiers this CPU has, best first (the order of isa.cpp's kTiers;
# from /proc/cpuinfo's flags, which also says whether the OS enabled them),
# and defines has FLAG... (true when every flag is present).
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
tiers=()
has avx512f avx512bw avx512vl avx512dq amx_tile amx_bf16 && tiers+=(avx512-amx)
has avx512f avx512bw avx512vl avx512dq && tiers+=(avx512)
has avx2 fma f16c && tiers+=(avx2)
[ ${#tiers[@]} -gt 0 ] || tiers=(generic)
