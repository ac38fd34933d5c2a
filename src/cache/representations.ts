import { promisify } from 'node:util'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { COMPRESSED_ENCODINGS, type Encoding } from './encodings.ts'
import { codedEtag } from './http/etag.ts'
import type { CachedResponse } from './stores/store.ts'
import { BROTLI_QUALITY, GZIP_LEVEL, MIN_COMPRESSED_BYTES } from './tuning.ts'

/** A response in every coding it is kept in; a coding that would not gain holds the identity response. */
export type Representations = Readonly<Record<Encoding, CachedResponse>>

const brotli = promisify(brotliCompress)
const gzipped = promisify(gzip)

const compressors: Record<(typeof COMPRESSED_ENCODINGS)[number], (body: Buffer) => Promise<Buffer>> = {
  br: (body) => brotli(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length
    }
  }),
  gzip: (body) => gzipped(body, { level: GZIP_LEVEL })
}

/**
 * The representations of `identity` in `encodings` (all of them for a fill, the one a request
 * wants when nothing is stored). Compression runs on libuv's threads, off the event loop. A body
 * under MIN_COMPRESSED_BYTES, or one a coding does not make smaller, is kept as it is.
 */
export async function representationsOf (
  identity: CachedResponse,
  encodings: readonly Encoding[] = COMPRESSED_ENCODINGS
): Promise<Representations> {
  const representations: Record<Encoding, CachedResponse> = { identity, br: identity, gzip: identity }
  if (identity.body.length < MIN_COMPRESSED_BYTES) return representations
  await Promise.all(COMPRESSED_ENCODINGS.filter((encoding) => encodings.includes(encoding)).map(async (encoding) => {
    const body = await compressors[encoding](identity.body)
    if (body.length < identity.body.length) {
      const etag = codedEtag(identity.etag, encoding)
      representations[encoding] = { status: identity.status, encoding, etag, body }
    }
  }))
  return representations
}
