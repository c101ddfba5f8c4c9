/* scripts/membw.c — STREAM-like memory READ bandwidth: each thread sums its
 * own contiguous slice of a large buffer (default 1 GiB, far beyond L3), best
 * of several runs, for 1 thread and for N threads. Reports GB/s (1e9 B/s).
 * This is the ceiling the FP8 weight-streaming decoders are measured against
 * (bytes of weights read per second).
 *
 * Usage: membw [MiB=1024] [runs=5] [threads=nproc]
 * Built and run by scripts/membw.sh. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  const uint64_t* p;
  size_t n;            /* words in this thread's slice */
  pthread_barrier_t* start;
  double t0, t1;       /* seconds: after the barrier, after the sum */
  double cpu;          /* this thread's CPU seconds for the sum */
  uint64_t sum;
} Job;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Eight independent accumulators so the loop is bound by loads, not by an
 * add chain; the compiler vectorises it (-O3 -march=native: 256-bit loads). */
static uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) a[k] += p[i + k];
  for (; i < n; ++i) a[0] += p[i];
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void* run(void* arg) {
  Job* j = (Job*)arg;
  pthread_barrier_wait(j->start);
  const double c0 = cpu_now();
  j->t0 = now();
  j->sum = sum_words(j->p, j->n);
  j->t1 = now();
  j->cpu = cpu_now() - c0;
  return NULL;
}

/* One timed pass with `threads` threads: wall time from the first start to
 * the last finish; *cpu = the largest per-thread CPU time, which on a shared
 * (time-sliced) machine approximates the wall time the pass would take if
 * the threads had the cores to themselves. */
static double pass(const uint64_t* buf, size_t words, int threads, uint64_t* sink, double* cpu) {
  pthread_t tid[256];
  Job jobs[256];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  const size_t per = words / (size_t)threads;
  for (int t = 0; t < threads; ++t) {
    jobs[t] = (Job){buf + (size_t)t * per, t == threads - 1 ? words - (size_t)t * per : per, &start, 0, 0, 0, 0};
    pthread_create(&tid[t], NULL, run, &jobs[t]);
  }
  double t0 = 1e300, t1 = 0;
  *cpu = 0;
  for (int t = 0; t < threads; ++t) {
    pthread_join(tid[t], NULL);
    if (jobs[t].cpu > *cpu) *cpu = jobs[t].cpu;
    if (jobs[t].t0 < t0) t0 = jobs[t].t0;
    if (jobs[t].t1 > t1) t1 = jobs[t].t1;
    *sink += jobs[t].sum;
  }
  pthread_barrier_destroy(&start);
  return t1 - t0;
}

int main(int argc, char** argv) {
  const long mib = argc > 1 ? atol(argv[1]) : 1024;
  const int runs = argc > 2 ? atoi(argv[2]) : 5;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int nthreads = argc > 3 ? atoi(argv[3]) : (int)(ncpu > 0 ? ncpu : 1);
  if (mib <= 0 || runs <= 0 || nthreads <= 0 || nthreads > 256) {
    fprintf(stderr, "usage: membw [MiB>0] [runs>0] [threads 1..256]\n");
    return 2;
  }
  const size_t bytes = (size_t)mib << 20;
  uint64_t* buf = NULL;
  if (posix_memalign((void**)&buf, 4096, bytes) != 0) {
    fprintf(stderr, "membw: cannot allocate %ld MiB\n", mib);
    return 1;
  }
  /* Touch every page (and give it non-zero data) before timing. */
  const size_t words = bytes / sizeof(uint64_t);
  for (size_t i = 0; i < words; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;

  uint64_t sink = 0;
  int counts[2] = {1, nthreads};
  for (int c = 0; c < (nthreads > 1 ? 2 : 1); ++c) {
    double best = 1e300, worst = 0, best_cpu = 1e300, cpu = 0;
    pass(buf, words, counts[c], &sink, &cpu); /* warm-up */
    for (int r = 0; r < runs; ++r) {
      const double s = pass(buf, words, counts[c], &sink, &cpu);
      if (s < best) best = s;
      if (s > worst) worst = s;
      if (cpu < best_cpu) best_cpu = cpu;
    }
    printf("read  %2d thread%s  %6ld MiB  best %6.1f GB/s  worst %6.1f GB/s  per-CPU-time %6.1f GB/s  (%d runs)\n",
           counts[c], counts[c] == 1 ? " " : "s", mib, (double)bytes / best / 1e9,
           (double)bytes / worst / 1e9, (double)bytes / best_cpu / 1e9, runs);
    fflush(stdout);
  }
  fprintf(stderr, "(checksum %llx)\n", (unsigned long long)sink);
  free(buf);
  return 0;
}
