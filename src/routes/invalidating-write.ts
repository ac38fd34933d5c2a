import type { FastifyRequest } from 'fastify'
import { CommitOutcomeUnknownError } from '../errors.ts'

/**
 * Waits for a write, then invalidates what it changed, before the answer goes out. When the
 * answer to its COMMIT was lost, the write may have committed all the same: what it changed is
 * invalidated before the 503 goes out, so a write never leaves its old state cached behind it.
 * @param changed the generations the write's result changed (`undefined`: it changed nothing)
 */
export async function invalidatingWrite<Result> (
  request: FastifyRequest,
  write: Promise<Result>,
  changed: (result: Result) => readonly string[] | undefined
): Promise<Result> {
  let result: Result
  try {
    result = await write
  } catch (error) {
    if (error instanceof CommitOutcomeUnknownError) await invalidate(request, changed(error.result as Result))
    throw error
  }
  await invalidate(request, changed(result))
  return result
}

async function invalidate (request: FastifyRequest, generations: readonly string[] | undefined): Promise<void> {
  if (generations !== undefined) await request.server.cache.invalidate(generations, request)
}
