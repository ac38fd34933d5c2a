/** The content codings a cached response is kept in: its bytes as produced, and two compressed forms. */
export type Encoding = 'identity' | 'br' | 'gzip'

/** The compressed codings, in the server's order of preference when a client likes them equally. */
export const COMPRESSED_ENCODINGS = ['br', 'gzip'] as const satisfies readonly Encoding[]

export const ENCODINGS: readonly Encoding[] = [...COMPRESSED_ENCODINGS, 'identity']

/** Distinct Accept-Encoding values remembered with their answer: clients send few, and the same ones again. */
const REMEMBERED_HEADERS = 256
const chosen = new Map<string, Encoding>()

/**
 * The coding a response to this `Accept-Encoding` is sent in (RFC 9110 §12.5.3): the acceptable
 * one with the highest q-value, `br` before `gzip` before `identity` when equal. `*` stands for
 * every coding the header does not name; `identity` is acceptable unless `identity;q=0`, or `*;q=0`
 * without `identity`, excludes it, and when not named it ranks with the least wanted coding named.
 * Unknown codings and malformed entries are ignored. No header: `identity`. When nothing is
 * acceptable, `identity` anyway: a 406 helps no client.
 */
export function preferredEncoding (header: string | undefined): Encoding {
  if (header === undefined) return 'identity'
  const remembered = chosen.get(header)
  if (remembered !== undefined) return remembered
  const encoding = negotiate(header)
  if (chosen.size >= REMEMBERED_HEADERS) chosen.clear()
  chosen.set(header, encoding)
  return encoding
}

const QVALUE = /^q=(0(\.\d{0,3})?|1(\.0{0,3})?)$/i

function negotiate (header: string): Encoding {
  const qualities = new Map<string, number>()
  for (const entry of header.split(',')) {
    const [name = '', ...parameters] = entry.split(';').map((part) => part.trim())
    if (name === '') continue
    let quality = 1
    const q = parameters.find((parameter) => /^q=/i.test(parameter))
    if (q !== undefined) {
      if (!QVALUE.test(q)) continue
      quality = Number(q.slice(2))
    }
    const coding = name.toLowerCase() === 'x-gzip' ? 'gzip' : name.toLowerCase()
    // A coding named twice keeps the better of its q-values.
    qualities.set(coding, Math.max(quality, qualities.get(coding) ?? 0))
  }
  const star = qualities.get('*')
  // Not named and no `*`: identity is still acceptable, as much as the least wanted coding named.
  const listed = [...qualities.values()].filter((quality) => quality > 0)
  const identityByDefault = listed.length === 0 ? 1 : Math.min(...listed)
  const qualityOf = (encoding: Encoding) => {
    return qualities.get(encoding) ?? star ?? (encoding === 'identity' ? identityByDefault : 0)
  }
  let best: Encoding = 'identity'
  let bestQuality = 0
  for (const encoding of ENCODINGS) {
    const quality = qualityOf(encoding)
    if (quality > bestQuality) {
      best = encoding
      bestQuality = quality
    }
  }
  return best
}

/**
 * Where a view's response is kept in `encoding`: its key with the coding before the hash tag, so
 * every representation shares the view's Redis Cluster slot, and a flush pattern written for the
 * identity key (`…:{e:*}`) matches no other representation's.
 */
export function encodedKey (key: string, encoding: Encoding): string {
  if (encoding === 'identity') return key
  const tag = key.indexOf('{')
  return `${key.slice(0, tag)}${encoding}:${key.slice(tag)}`
}
