import fastifyRateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import { limitWrites, writeLimitStore } from '../src/rate-limit.ts'

/**
 * Rate limits writes per client IP: RATE_LIMIT_WRITES per RATE_LIMIT_WINDOW_MS per route, then
 * 429 with Retry-After; counted in Redis while it answers, else in this process (src/rate-limit.ts).
 */
export default fp(async function rateLimit (app) {
  const { RATE_LIMIT_WRITES, RATE_LIMIT_WINDOW_MS, CACHE_PREFIX } = app.config
  const redis = app.hasDecorator('redis') ? app.redis : undefined
  const { cache } = app
  // Before @fastify/rate-limit's own onRoute hook, which reads what this one sets.
  app.addHook('onRoute', limitWrites)
  await app.register(fastifyRateLimit, {
    global: false,
    max: RATE_LIMIT_WRITES,
    timeWindow: RATE_LIMIT_WINDOW_MS,
    store: writeLimitStore({
      redis,
      prefix: `${CACHE_PREFIX}:rate-limit:`,
      sharedUsable: () => redis?.status === 'ready' && cache.partlyBypassed !== true
    })
  })
}, { name: 'rate-limit', dependencies: ['cache'] })
