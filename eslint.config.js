import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', '.data/**', '.tap/**', 'bench/results/**']
  }),
  {
    rules: {
      // Long enough for a route's schema line or a log message, short enough to read side by side.
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true }]
    }
  }
]
