// qwen3-footprint INTERVAL_MS PID...: prints, every INTERVAL_MS, the summed physical footprint
// (bytes) of the given processes, one line per tick, until they have all exited. macOS only:
// ri_phys_footprint is what Activity Monitor calls "Memory" and counts Metal's unified-memory
// allocations, which RSS does not. proc_pid_rusage reads it without stopping the process
// (vmmap and footprint(1) inspect the task and would disturb a timed run).
// Built by the harness's setup on macOS (bench/harness/host/memory/footprint.ts).
#include <libproc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: qwen3-footprint INTERVAL_MS PID...\n");
    return 2;
  }
  useconds_t interval = (useconds_t)atoi(argv[1]) * 1000;
  for (;;) {
    unsigned long long total = 0;
    int alive = 0;
    for (int i = 2; i < argc; i++) {
      struct rusage_info_v4 info;
      if (proc_pid_rusage(atoi(argv[i]), RUSAGE_INFO_V4, (rusage_info_t *)&info) == 0) {
        total += info.ri_phys_footprint;
        alive++;
      }
    }
    if (!alive) return 0;
    printf("%llu\n", total);
    fflush(stdout);
    usleep(interval);
  }
}
