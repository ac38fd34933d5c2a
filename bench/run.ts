// npm run bench: every cache mode on the same endpoints and data, side by side with a
// constant-bytes ceiling, in rounds, with a terminal table, JSON/Markdown/HTML reports, and a
// ratio gate for CI (--check). What it measures and how: bench/README.md.
import { commandLine, parseBenchArgs, USAGE, UsageError, type BenchOptions } from './args.ts'
import { compareRuns, loadResults } from './report/compare.ts'
import { measure } from './measure.ts'
import { checkResults, printTables, writeResults } from './report/output.ts'

function parseOrExit (argv: string[]): BenchOptions {
  try {
    return parseBenchArgs(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`${error.message}\n\n${USAGE}`)
    process.exit(2)
  }
}

const argv = process.argv.slice(2)
const options = parseOrExit(argv)

if (options.compare) {
  const [before, after] = await Promise.all(options.compare.map(loadResults))
  console.log(compareRuns(before!, after!))
  process.exit(0)
}

const results = await measure(options, commandLine(argv))
printTables(results)
await writeResults(results, options.outputDir, options.reportFile)
const passed = options.check ? await checkResults(results) : true
process.exit(passed ? 0 : 1)
