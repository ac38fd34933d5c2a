// WORKERS=2 with CACHE_MODE=tiered: each worker keeps an L1 of its own, and a write through one
// reaches the other's L1 through Redis pub/sub within the invalidation lag.
import type http from 'node:http'
import t from 'tap'
import { createTestDatabase } from '../support/database.ts'
import { startRedisServer } from '../support/redis-server.ts'
import { connectionPerWorker, postEventVia, request, startCluster } from '../support/worker-cluster.ts'

const redis = await startRedisServer(t)
const cluster = await startCluster(t, {
  CACHE_MODE: 'tiered',
  REDIS_URL: redis.url,
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  CACHE_L1_TTL: '3600', // only the invalidation bus may end a copy here
  DATABASE_URL: await createTestDatabase(t),
  RATE_LIMIT_WRITES: '1000000'
})

t.test('tiered across two workers: each serves from its own L1, ' +
  'and sees the other\'s writes within the lag', async (t) => {
  const pinned = await connectionPerWorker(t, cluster)
  t.equal(pinned.size, 2, 'one connection to each worker')
  const [a, b] = [...pinned.values()] as [http.Agent, http.Agent]

  const id = await postEventVia(t, cluster, a)
  const url = `${cluster.base}/events/${id}`
  /** The event's name as the worker on `agent`'s connection answers it. */
  const nameOn = async (agent: http.Agent) => {
    const reply = await request(url, { agent })
    return (JSON.parse(reply.body) as { name: string }).name
  }
  const lags: number[] = []
  let l1Hits = 0
  for (let i = 0; i < 50; i++) {
    const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a]
    await request(url, { agent: reader })
    const warm = await request(url, { agent: reader })
    if (String(warm.headers['server-timing']).includes('desc=l1')) l1Hits++
    const write = await request(url, { method: 'PATCH', body: { name: `version ${i}` }, agent: writer })
    t.equal(write.status, 200)
    const acknowledged = performance.now()
    t.equal(await nameOn(writer), `version ${i}`, 'the writer reads its write at once')
    while (await nameOn(reader) !== `version ${i}`) {
      if (performance.now() - acknowledged > 2_000) {
        throw new Error(`write ${i} not seen by the other worker within 2 s`)
      }
    }
    lags.push(performance.now() - acknowledged)
  }
  t.ok(l1Hits >= 45, `the reader's copy was an L1 hit before the write (${l1Hits} of 50)`)
  const sorted = lags.sort((x, y) => x - y)
  t.comment('50 writes across workers: the other worker served the new state after ' +
    `p50 ${sorted[25]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`)
})
