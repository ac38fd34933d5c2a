import type { PageParams } from './db/sql.ts'

export interface Page<Item> {
  count: number
  next: string | null
  previous: string | null
  results: Item[]
}

/**
 * Wraps a page of results with absolute `next`/`previous` links computed as Django REST
 * framework's LimitOffsetPagination computes them (including a `previous` link from past the end,
 * and dropping `offset` when it would be 0), so the Django original's clients page the same way.
 * Links are built from the validated parameters only: nothing else the client sent leaks into them.
 */
export function toPage<Item> (
  publicUrl: string,
  path: string,
  params: PageParams,
  found: { count: number, results: Item[] }
): Page<Item> {
  const { limit, offset } = params
  const link = (newOffset: number) => `${publicUrl}${path}?limit=${limit}${newOffset > 0 ? `&offset=${newOffset}` : ''}`
  return {
    count: found.count,
    next: offset + limit < found.count ? link(offset + limit) : null,
    previous: offset > 0 ? link(Math.max(offset - limit, 0)) : null,
    results: found.results
  }
}
