import { COMPRESSED_ENCODINGS, etagOf, representationsOf, type Encoding } from '../product.ts'
import { median } from '../stats.ts'

/** What compressing one page costs a miss, and what it saves every hit. */
export interface CompressionCost {
  endpoint: string
  identityBytes: number
  /** Each coding alone: its bytes, and the median time to make them (as `CACHE_MODE=off` does per request). */
  codings: Array<{ encoding: Encoding, bytes: number, ms: number }>
  /** Every coding at once, as a fill makes them before a miss answers: the latency compressing adds to a miss. */
  fillMs: number
  samples: number
}

const SAMPLES = 30

/** Times the cache's own compression of `identity`, `SAMPLES` times each way, in this process. */
export async function measureCompression (endpoint: string, identity: Buffer): Promise<CompressionCost> {
  const response = { status: 200, encoding: 'identity' as const, etag: etagOf(identity), body: identity }
  const time = async (encodings: readonly Encoding[]) => {
    const times: number[] = []
    let made = await representationsOf(response, encodings)
    for (let sample = 0; sample < SAMPLES; sample++) {
      const started = performance.now()
      made = await representationsOf(response, encodings)
      times.push(performance.now() - started)
    }
    return { made, ms: median(times) }
  }
  const codings: CompressionCost['codings'] = []
  for (const encoding of COMPRESSED_ENCODINGS) {
    const { made, ms } = await time([encoding])
    codings.push({ encoding, bytes: made[encoding].body.length, ms })
  }
  const { ms: fillMs } = await time(COMPRESSED_ENCODINGS)
  return { endpoint, identityBytes: identity.length, codings, fillMs, samples: SAMPLES }
}
