import t from 'tap'
import { commandLine, parseBenchArgs, USAGE, UsageError } from '../../bench/args.ts'
import { MODE, MODE_NAMES } from '../../bench/scenarios.ts'

t.test('arguments: defaults, --quick, lists, and clear errors', async (t) => {
  const defaults = parseBenchArgs([])
  t.same(
    [defaults.events, defaults.guestsPerEvent, defaults.durationSeconds, defaults.connections, defaults.rounds],
    [[10_000], 10, 10, 20, 3]
  )
  t.equal(defaults.outputDir, 'bench/results')
  t.equal(defaults.modes, undefined, 'every mode by default')
  t.equal(defaults.reportFile, undefined)
  const quick = parseBenchArgs(['--quick', '--check'])
  t.same([quick.events, quick.durationSeconds, quick.quick, quick.check], [[1000], 2, true, true])
  t.same(parseBenchArgs(['--events', '1000,100000, 1000000']).events, [1000, 100_000, 1_000_000])
  t.same(parseBenchArgs(['--quick', '--duration', '5']).durationSeconds, 5, 'an explicit flag wins over --quick')
  t.same(parseBenchArgs(['--endpoints', 'events-list,mix']).endpoints, ['events-list', 'mix'])
  t.same(parseBenchArgs(['--compare', 'a.json', 'b.json']).compare, ['a.json', 'b.json'])
  t.throws(() => parseBenchArgs(['--events', 'lots']),
    new UsageError('--events must be a positive whole number, got "lots"'))
  t.throws(() => parseBenchArgs(['--rounds', '0']), { message: /--rounds must be a positive whole number/ })
  t.throws(() => parseBenchArgs(['--compare', 'a.json']), { message: /--compare takes two result files/ })
  t.throws(() => parseBenchArgs(['--fast']), { name: 'UsageError', message: /--fast/ })
  t.throws(() => parseBenchArgs(['stray']), { message: /unexpected argument "stray"/ })
})

t.test('--modes: known ASCII names only, the error lists them, USAGE says the baseline always runs', async (t) => {
  t.same(parseBenchArgs(['--modes', 'memory, tiered-x2']).modes, [MODE.memory, MODE.tieredPair])
  t.same(parseBenchArgs(['--modes', 'off+naive,off+join']).modes, [MODE.offNaive, MODE.offJoin])
  t.equal(parseBenchArgs(['--modes', ' , ']).modes, undefined, 'an empty list is no selection')
  t.throws(
    () => parseBenchArgs(['--modes', 'memory,tiered×2']),
    new UsageError(`--modes: unknown name "tiered×2"; known: ${MODE_NAMES.join(', ')}`)
  )
  t.throws(() => parseBenchArgs(['--modes', 'off']), {
    name: 'UsageError',
    message: /known: off\+naive, off\+join, memory/
  })
  t.match(USAGE, /--modes a,b +only these: off\+naive, off\+join, memory, redis, tiered, tiered-x2/)
  t.match(USAGE, /off\+join is always measured/)
  t.ok(MODE_NAMES.every((name) => /^[\x20-\x7e]+$/.test(name)), 'every mode name is ASCII')
})

t.test('--endpoints: known names only', async (t) => {
  t.throws(() => parseBenchArgs(['--endpoints', 'events-list,events']), {
    name: 'UsageError',
    message: '--endpoints: unknown name "events"; known: events-list, event-detail, guests-list, guest-detail, mix'
  })
})

t.test('--encodings: identity and br by default, known codings only', async (t) => {
  t.same(parseBenchArgs([]).encodings, ['identity', 'br'], 'what every HTTP library asks for, beside identity')
  t.same(parseBenchArgs(['--encodings', 'gzip, identity']).encodings, ['gzip', 'identity'])
  t.throws(() => parseBenchArgs(['--encodings', 'br,zstd']), {
    name: 'UsageError',
    message: '--encodings: unknown name "zstd"; known: identity, br, gzip'
  })
  t.match(USAGE, /--encodings a,b +every row once per coding its requests accept: identity, br, gzip/)
})

t.test('--report FILE: also the Markdown report to FILE', async (t) => {
  t.equal(parseBenchArgs(['--quick', '--report', 'bench/REPORT.md']).reportFile, 'bench/REPORT.md')
  t.throws(() => parseBenchArgs(['--report']), { name: 'UsageError', message: /--report/ })
  t.throws(() => parseBenchArgs(['--report', '']), { message: /--report takes a file name/ })
  t.match(USAGE, /--report FILE +also write the Markdown report to FILE/)
})

t.test('the command line recorded in results reads as a user would type it', async (t) => {
  t.equal(commandLine([]), 'npm run bench')
  t.equal(commandLine(['--quick', '--report', 'bench/REPORT.md']), 'npm run bench -- --quick --report bench/REPORT.md')
  t.equal(commandLine(['--modes', 'off+join,memory']), 'npm run bench -- --modes off+join,memory')
  t.equal(commandLine(['--out', "my run's dir"]), "npm run bench -- --out 'my run'\\''s dir'")
})
