/**
 * What each runner's own `peak_device_bytes` is, by its `ready.framework` and backend: the frameworks
 * count different things (allocated tensors, a pool's reservation, an allocator's peak), so the report
 * names the call beside the harness-measured figure instead of presenting them as one quantity.
 */
export function frameworkMemoryMetric(readyFramework: string, backend: string): string | null {
  if (backend === "cpu") return null;
  switch (readyFramework) {
    case "torch":
    case "torch-compile":
      return backend === "mps" ? "driver-allocated (torch.mps.driver_allocated_memory)" : "allocated (torch.cuda.max_memory_allocated)";
    case "mlx-lm":
      return "allocator peak (mx.get_peak_memory)";
    case "mlx-swift":
      return "allocator peak (Memory.peakMemory)";
    case "burn-mlx":
      return "allocator peak (mlx_get_peak_memory)";
    case "burn":
      return "reserved by the memory pools (Burn memory_usage)";
    default:
      return null;
  }
}
