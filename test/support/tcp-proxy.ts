import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import type { Test } from 'tap'

/**
 * A TCP proxy on 127.0.0.1 that a test can cut: while cut, bytes in both directions are swallowed
 * (a partition: commands sent then are lost, not delayed). Healing drops the connections that
 * lived through the cut, as a real partition's dead connections would be, so clients reconnect.
 */
export interface TcpProxy {
  url: (scheme: string) => string
  cut: () => void
  heal: () => void
  /**
   * Once the client has sent bytes containing `marker`, the answer to the client's next request is
   * lost with its connection: the server has done the work, the client never hears of it (a
   * connection dying after a COMMIT has reached the server, for example).
   */
  loseAnswerAfter: (marker: string) => void
}

export async function startTcpProxy (t: Test, upstreamPort: number): Promise<TcpProxy> {
  let cut = false
  let loseAfter: string | undefined
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = createConnection(upstreamPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    }
    // 'armed': the marker went by, so the next request's answer is lost; 'losing': that request went by.
    let losing: 'armed' | 'losing' | undefined
    client.on('data', (chunk) => {
      if (cut) return
      if (losing === 'armed') losing = 'losing'
      else if (loseAfter !== undefined && chunk.includes(loseAfter)) {
        loseAfter = undefined
        losing = 'armed'
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (cut) return
      if (losing === 'losing') {
        client.destroy()
        upstream.destroy()
        return
      }
      client.write(chunk)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy did not listen')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    url: (scheme) => `${scheme}://127.0.0.1:${address.port}`,
    cut: () => { cut = true },
    heal: () => {
      for (const socket of sockets) socket.destroy()
      cut = false
    },
    loseAnswerAfter: (marker) => { loseAfter = marker }
  }
}

/** `url` (a database's, say) with its host and port replaced by the proxy's. */
export function viaProxy (url: string, proxyUrl: string): string {
  const target = new URL(url)
  const proxy = new URL(proxyUrl)
  target.hostname = proxy.hostname
  target.port = proxy.port
  return target.toString()
}
