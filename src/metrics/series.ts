// Prometheus metrics whose label sets are resolved once and kept, for the hot path. prom-client
// validates and hashes the labels object on every inc() and observe(), even through a child
// from labels(); per request that is a measurable part of a cached hit. Here a request looks its
// series up by a short key (or keeps it), and counting is an addition. The objects below are
// registered with prom-client's registry, which asks each for its samples on a scrape.
import type { Registry } from 'prom-client'

type Labels = Readonly<Record<string, string | number>>

/** prom-client's default buckets (seconds). */
const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

interface Sample {
  labels: Labels
  value: number
  metricName?: string
}

/** What prom-client's registry reads off a metric on a scrape. */
interface Exposition {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  values: Sample[]
}

abstract class SeriesMetric<Series> {
  readonly name: string
  readonly help: string
  readonly aggregator = 'sum' as const
  abstract readonly type: 'counter' | 'histogram'
  readonly #series = new Map<string, { labels: Labels, series: Series }>()

  constructor (registry: Registry, name: string, help: string) {
    this.name = name
    this.help = help
    registry.registerMetric(this as never)
  }

  /** The series `key` names, made with `labels()` the first time; a key must always name the same labels. */
  series (key: string, labels: () => Labels): Series {
    let entry = this.#series.get(key)
    if (entry === undefined) this.#series.set(key, entry = { labels: labels(), series: this.create() })
    return entry.series
  }

  get (): Exposition {
    const values: Sample[] = []
    for (const { labels, series } of this.#series.values()) values.push(...this.samples(labels, series))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    this.#series.clear()
  }

  protected abstract create (): Series
  protected abstract samples (labels: Labels, series: Series): Sample[]
}

export class CounterSeries {
  value = 0
  inc (by = 1): void { this.value += by }
}

export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter'
  protected create (): CounterSeries { return new CounterSeries() }
  protected samples (labels: Labels, series: CounterSeries): Sample[] {
    return [{ labels, value: series.value }]
  }
}

export class HistogramSeries {
  /** Observations per bucket, not cumulative; the last one is +Inf. */
  readonly counts: number[]
  sum = 0
  count = 0
  readonly #bounds: readonly number[]

  constructor (bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe (value: number): void {
    let bucket = 0
    while (bucket < this.#bounds.length && value > this.#bounds[bucket]!) bucket++
    this.counts[bucket]!++
    this.sum += value
    this.count++
  }
}

export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram'
  readonly #bounds: readonly number[]

  constructor (registry: Registry, name: string, help: string, bounds: readonly number[] = DEFAULT_BUCKETS) {
    super(registry, name, help)
    this.#bounds = bounds
  }

  protected create (): HistogramSeries { return new HistogramSeries(this.#bounds) }

  protected samples (labels: Labels, series: HistogramSeries): Sample[] {
    const samples: Sample[] = []
    let cumulative = 0
    series.counts.forEach((count, bucket) => {
      cumulative += count
      const le = bucket < this.#bounds.length ? this.#bounds[bucket]! : '+Inf'
      samples.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` })
    })
    samples.push({ labels, value: series.sum, metricName: `${this.name}_sum` })
    samples.push({ labels, value: series.count, metricName: `${this.name}_count` })
    return samples
  }
}
