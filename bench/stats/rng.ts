/**
 * Seeded, platform-independent random numbers, shared by the synthetic weights (bench/harness/model)
 * and the bootstrap resampling (bench/stats). Integer arithmetic only for the
 * uniform stream (xoshiro128**), so the same seed gives the same bits on any machine; normals use
 * Box–Muller on V8's fdlibm-derived Math.log/cos/sin, which are deterministic for a given Node major.
 */

/** 32-bit FNV-1a of a string: turns a tensor name into a stream id. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** splitmix32: expands a seed into well-mixed state words. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: number) {
    const st = { s: (seed ^ Math.imul(stream, 0x9e3779b1)) | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in (0, 1): never 0, so log() is finite. */
  nextOpen01(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Fills `out` with Normal(0, std) samples. */
  fillNormal(out: Float32Array, std: number): void {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.nextOpen01())) * std;
      const theta = 2 * Math.PI * this.nextOpen01();
      out[i] = r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
    }
  }
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
