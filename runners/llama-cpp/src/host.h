// Process facts the replies carry: the monotonic clock and the peak resident set size.
#pragma once

#include <cstdint>

namespace qb {

/** Nanoseconds on the monotonic clock (std::chrono::steady_clock). */
int64_t now_ns();

/** Peak resident set size of this process so far, bytes. */
int64_t peak_rss_bytes();

}  // namespace qb
