// A process counted at its upper level is told by a loaded hit that costs more than a hit alone, and
// counted again: per row, the cheaper process's count is kept.
import t from 'tap'
import { atUpperLevel, cheaperPerRow, unsteady } from '../../bench/instructions/process-level.ts'
import type { InstructionCount } from '../../bench/instructions/results.ts'

const count = (mode: string, kind: 'hit' | 'loaded', perRequest: number): InstructionCount => {
  const windows = [perRequest * 300]
  return { mode, endpoint: 'guests-list', encoding: 'identity', kind, requests: 300, windows, perRequest }
}

t.test('a loaded hit clearly dearer than a hit alone marks its mode, and only its mode', async (t) => {
  const counts = [count('redis', 'hit', 290_000), count('redis', 'loaded', 446_000),
    count('memory', 'hit', 123_473), count('memory', 'loaded', 123_678)]
  t.equal(atUpperLevel(counts, 'redis'), true)
  t.equal(atUpperLevel(counts, 'memory'), false, 'a burst costing about the same is the usual level')
})

t.test('per row, the cheaper of two processes, with both processes\' windows', async (t) => {
  const first = [count('redis', 'hit', 290_000), count('redis', 'loaded', 446_000)]
  const second = [count('redis', 'hit', 295_000), count('redis', 'loaded', 225_000)]
  const kept = cheaperPerRow(first, second)
  t.same(kept.map((row) => row.perRequest), [290_000, 225_000])
  t.same(kept[1]!.windows, [225_000 * 300, 446_000 * 300])
})

t.test('a row whose mean window is far over its cheapest marks its mode unsteady, only its mode', async (t) => {
  const windowsOf = (mode: string, perWindow: number[]): InstructionCount => {
    const windows = perWindow.map((perRequest) => perRequest * 300)
    const perRequest = Math.min(...perWindow)
    const meanPerRequest = perWindow.reduce((sum, each) => sum + each, 0) / perWindow.length
    const row = { mode, endpoint: 'events-list', encoding: 'br' as const, kind: 'hit' as const, requests: 300 }
    return { ...row, windows, perRequest, meanPerRequest }
  }
  const counts = [
    windowsOf('ceiling', [122_589, 121_055, 120_818, 234_362, 290_967]),
    windowsOf('ceiling+headers', [97_395, 97_597, 97_267, 97_300, 97_344]),
    // One collection in five windows is steady enough.
    windowsOf('memory', [116_314, 116_400, 116_350, 116_330, 130_000])
  ]
  t.equal(unsteady(counts, 'ceiling'), true)
  t.equal(unsteady(counts, 'ceiling+headers'), false)
  t.equal(unsteady(counts, 'memory'), false)
  t.equal(unsteady([count('ceiling', 'hit', 65_000)], 'ceiling'), false, 'a count without a mean (an older file)')
})
