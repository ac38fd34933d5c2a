import { Agent, request } from 'node:http'

/** What a batch of requests got back: statuses and `X-Cache` values, each with how many times. */
export interface Tally {
  statuses: Map<number, number>
  /** `X-Cache` values; responses without one (the ceiling) count under `none`. */
  cache: Map<string, number>
}

/** Request headers sent with every request of a batch (`accept-encoding`). */
export type Headers = Readonly<Record<string, string>>

/** Sends every path once, in order, over one keep-alive connection: each when the last answer has been read. */
export async function sendInTurn (baseUrl: string, paths: readonly string[], headers: Headers = {}): Promise<Tally> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const tally = newTally()
  try {
    for (const path of paths) count(tally, await answered(get(agent, baseUrl + path, headers)))
  } finally {
    agent.destroy()
  }
  return tally
}

/** Pauses and resumes the server, so that a burst's requests are all waiting when it runs again. */
export interface Hold {
  pause: () => void
  resume: () => void
}

/**
 * Keep-alive connections to one server, `size` of them, kept open from one burst to the next so
 * that a counted burst sets none up. Each burst is `size` requests, one per connection, written
 * while the server is held: it finds them all waiting at once, as it does under load, and how
 * many it takes per turn of its event loop depends on no timing.
 */
export interface BurstClient {
  send: (paths: readonly string[], hold: Hold, headers?: Headers) => Promise<Tally>
  close: () => void
}

export function burstClient (baseUrl: string, size: number): BurstClient {
  const agent = new Agent({ keepAlive: true, maxSockets: size })
  return {
    send: async (paths, hold, headers = {}) => {
      const tally = newTally()
      for (let start = 0; start < paths.length; start += size) {
        hold.pause()
        let burst: Sent[]
        try {
          burst = paths.slice(start, start + size).map((path) => get(agent, baseUrl + path, headers))
          await Promise.all(burst.map((sent) => sent.written))
        } finally {
          hold.resume()
        }
        for (const answer of await Promise.all(burst.map(answered))) count(tally, answer)
      }
      return tally
    },
    close: () => agent.destroy()
  }
}

/** "1000 × 200; X-Cache 999 × HIT, 1 × MISS". */
export function describeTally (tally: Tally): string {
  const part = <Key>(counts: Map<Key, number>) => [...counts].map(([key, n]) => `${n} × ${String(key)}`).join(', ')
  return `${part(tally.statuses)}; X-Cache ${part(tally.cache)}`
}

interface Answer {
  status: number
  cache: string
}

interface Sent {
  /** Resolves once the request has been handed to the kernel. */
  written: Promise<void>
  answer: Promise<Answer>
}

function get (agent: Agent, url: string, headers: Headers): Sent {
  let written!: () => void
  const sent = new Promise<void>((resolve) => { written = resolve })
  const answer = new Promise<Answer>((resolve, reject) => {
    const outgoing = request(url, { agent, headers }, (response) => {
      response.resume()
      response.on('end', () => {
        const cache = response.headers['x-cache']
        resolve({ status: response.statusCode ?? 0, cache: typeof cache === 'string' ? cache : 'none' })
      })
      response.on('error', reject)
    })
    outgoing.on('finish', written).on('error', reject).end()
  })
  // A failed request fails `answer`; `written` must not wait for it forever.
  answer.catch(() => written())
  return { written: sent, answer }
}

const answered = (sent: Sent) => sent.answer

function newTally (): Tally {
  return { statuses: new Map(), cache: new Map() }
}

function count (tally: Tally, { status, cache }: Answer): void {
  tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1)
  tally.cache.set(cache, (tally.cache.get(cache) ?? 0) + 1)
}
