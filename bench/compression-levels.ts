// What each compression level costs and saves on the responses the API makes: the measurement
// behind BROTLI_QUALITY, GZIP_LEVEL and MIN_COMPRESSED_BYTES (src/cache/tuning.ts).
//   node dist/bench/compression-levels.js [base URL of a running server, default http://127.0.0.1:3000]
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { median } from './stats.ts'

const PATHS = ['/events?limit=100', '/guests?limit=100', '/events/1']
const REPEATS = 30

const base = process.argv[2] ?? 'http://127.0.0.1:3000'
const codings: Array<{ name: string, levels: number[], compress: (body: Buffer, level: number) => Buffer }> = [
  {
    name: 'br',
    levels: [1, 3, 4, 5, 6, 7, 9, 11],
    compress: (body, level) => brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: level, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT }
    })
  },
  { name: 'gzip', levels: [1, 4, 6, 9], compress: (body, level) => gzipSync(body, { level }) }
]

for (const path of PATHS) {
  const response = await fetch(base + path, { headers: { 'accept-encoding': 'identity' } })
  const body = Buffer.from(await response.arrayBuffer())
  console.log(`\n${path}: ${body.length} bytes`)
  console.log('coding level   bytes  share   ms/compression')
  for (const { name, levels, compress } of codings) {
    for (const level of levels) {
      const times: number[] = []
      let size = 0
      for (let i = 0; i < REPEATS; i++) {
        const started = performance.now()
        size = compress(body, level).length
        times.push(performance.now() - started)
      }
      console.log(`${name.padEnd(6)} ${String(level).padStart(5)} ${String(size).padStart(7)} ` +
        `${(size / body.length).toFixed(3).padStart(6)} ${median(times).toFixed(3).padStart(10)}`)
    }
  }
}

// Where compressing stops paying: the smallest bodies, cut from the events page, and what each saves.
const page = Buffer.from(await (await fetch(`${base}/events?limit=100`)).arrayBuffer())
console.log('\nprefix bytes  br bytes  gzip bytes')
for (const length of [128, 256, 512, 1024, 1500, 2048, 4096]) {
  const prefix = page.subarray(0, length)
  console.log(`${String(length).padStart(12)} ${String(codings[0]!.compress(prefix, 5).length).padStart(9)} ` +
    `${String(codings[1]!.compress(prefix, 6).length).padStart(11)}`)
}
