import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { etagOf, representationsOf, type Encoding } from '../product.ts'
import type { CeilingBody } from './server.ts'
import { ceilingPath } from '../scenarios.ts'

/** A route of the ceiling and the identity bytes the app serves there. */
export interface CeilingSource {
  name: string
  route: string
  identity: Buffer
}

export interface WrittenBody {
  name: string
  /** The coding the request accepts; `body.encoding` is the one sent (identity where it would not gain). */
  accepted: Encoding
  bytes: number
  body: CeilingBody
}

/**
 * Writes each source's representations in `encodings` to `directory`, made by the function the
 * cache fills with, so the ceiling sends the bytes a hit sends (identity where a coding would not
 * gain, as the cache keeps it), and returns the ceiling's routes for them (with the ETag a hit gives
 * each) and each one's size.
 */
export async function writeCeilingBodies (
  directory: string,
  sources: readonly CeilingSource[],
  encodings: readonly Encoding[]
): Promise<WrittenBody[]> {
  const bodies: WrittenBody[] = []
  for (const { name, route, identity } of sources) {
    const response = { status: 200, encoding: 'identity' as const, etag: etagOf(identity), body: identity }
    const stored = await representationsOf(response)
    for (const encoding of encodings) {
      const { body, encoding: sent, etag } = stored[encoding]
      const file = join(directory, `${name}.${encoding}`)
      await writeFile(file, body)
      const ceiling = { route: ceilingPath(encoding, route), file, encoding: sent, etag }
      bodies.push({ name, accepted: encoding, bytes: body.length, body: ceiling })
    }
  }
  return bodies
}
