/**
 * Latency samples and their percentiles, for benchmarks and for tests that report (never assert)
 * timings. Samples are kept exactly (a benchmark records at most a few million), so p999 is the
 * real 99.9th sample, not a bucket's bound.
 */

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export class LatencyRecorder {
  #samples: Float64Array = new Float64Array(1_024);
  #count = 0;
  #sorted = true;

  /** Adds one sample (any unit; the summary is in the same unit). */
  record(value: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count] = value;
    this.#count += 1;
    this.#sorted = false;
  }

  get count(): number {
    return this.#count;
  }

  /** The sample at quantile `q` (0 … 1) by the nearest-rank method; NaN when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return Number.NaN;
    const samples = this.#sortedSamples();
    const rank = Math.min(this.#count - 1, Math.max(0, Math.ceil(q * this.#count) - 1));
    return samples[rank] ?? Number.NaN;
  }

  summary(): LatencySummary {
    const samples = this.#sortedSamples();
    let total = 0;
    for (const sample of samples) total += sample;
    return {
      count: this.#count,
      p50: this.quantile(0.5),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.#count === 0 ? Number.NaN : (samples[this.#count - 1] ?? Number.NaN),
      mean: this.#count === 0 ? Number.NaN : total / this.#count,
    };
  }

  #sortedSamples(): Float64Array {
    const view = this.#samples.subarray(0, this.#count);
    if (!this.#sorted) {
      view.sort();
      this.#sorted = true;
    }
    return view;
  }
}
