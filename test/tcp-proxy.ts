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
}

export async function startTcpProxy (t: Test, upstreamPort: number): Promise<TcpProxy> {
  let cut = false
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = createConnection(upstreamPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {})
    }
    client.on('data', (chunk) => { if (!cut) upstream.write(chunk) })
    upstream.on('data', (chunk) => { if (!cut) client.write(chunk) })
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
    }
  }
}
