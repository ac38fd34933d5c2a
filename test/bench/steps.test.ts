import t from 'tap'
import { MODE, MODES, selectModes, type ModeName } from '../../bench/scenarios.ts'
import { planSteps, STEPS, type RunFacts } from '../../bench/steps/index.ts'

function facts (requested: ModeName[] | undefined, redis: boolean, extra: Partial<RunFacts> = {}): RunFacts {
  return { ...selectModes(requested, redis), wrk: true, endpoints: undefined, ...extra }
}

const names = (plan: ReturnType<typeof planSteps>) => plan.run.map(({ step, modes }) => {
  return `${step.name}: ${modes.map((mode) => mode.name).join(' ')}`
})

t.test('--modes: the selection in the order of MODES, the baseline always, Redis modes only with Redis', async (t) => {
  t.same(selectModes(undefined, true).modes.map((mode) => mode.name), MODES.map((mode) => mode.name))
  const chosen = selectModes([MODE.tiered, MODE.memory], true)
  t.same(chosen.modes.map((mode) => mode.name), [MODE.offJoin, MODE.memory, MODE.tiered])
  t.equal(chosen.absent.get(MODE.redis), 'redis is not among --modes')
  const withoutRedis = selectModes(undefined, false)
  t.same(withoutRedis.modes.map((mode) => mode.name), [MODE.offNaive, MODE.offJoin, MODE.memory, MODE.compressingPeer])
  t.equal(withoutRedis.absent.get(MODE.tieredPair), 'tiered-x2 needs Redis')
})

t.test('steps: each runs when what it needs is there, with the modes it measures', async (t) => {
  const plan = planSteps(STEPS, facts(undefined, true))
  t.same(names(plan), [
    'mix: off+join memory redis tiered',
    'lag: tiered-x2',
    'lag-db: memory redis tiered',
    'expiry: memory redis tiered',
    'scaling: tiered tiered-x2'
  ], 'the mix on every one-instance mode but the N+1; the lags; expiry per store; scaling on tiered and the pair')
  t.same(plan.notes, [])
})

t.test('steps: one skipped for a missing need gets a note naming it', async (t) => {
  const noWrk = planSteps(STEPS, facts(undefined, true, { wrk: false }))
  t.same(names(noWrk), [
    'mix: off+join memory redis tiered', 'lag: tiered-x2', 'lag-db: memory redis tiered', 'expiry: memory redis tiered'
  ])
  t.same(noWrk.notes, ['process scaling (one vs two tiered processes under wrk) not measured: wrk is not on the PATH'])

  const noRedis = planSteps(STEPS, facts(undefined, false, { wrk: false }))
  t.same(names(noRedis), ['mix: off+join memory', 'lag-db: memory', 'expiry: memory'])
  t.same(noRedis.notes, [
    'invalidation lag across two tiered processes not measured: tiered-x2 needs Redis',
    'process scaling (one vs two tiered processes under wrk) not measured: ' +
      'tiered needs Redis; tiered-x2 needs Redis; wrk is not on the PATH'
  ])

  const chosen = planSteps(STEPS, facts([MODE.memory, MODE.tieredPair], true, { endpoints: ['events-list'] }))
  t.same(names(chosen), ['lag: tiered-x2', 'lag-db: memory', 'expiry: memory'])
  t.same(chosen.notes, [
    'the read/write mix not measured: mix is not among --endpoints',
    'process scaling (one vs two tiered processes under wrk) not measured: tiered is not among --modes'
  ])
})
