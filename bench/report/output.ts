// The run's results on disk and on the terminal, and the gate against bench/thresholds.json.
import { appendFile, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { BenchResults } from '../results.ts'
import { loadThresholds } from '../gate.ts'
import { checkThresholds, formatCheck } from './check.ts'
import { renderHtml } from './html.ts'
import { instructionLines, renderMarkdown } from './markdown.ts'
import { datasetTitle } from './sections.ts'
import { renderTable } from './table.ts'

export function printTables (results: BenchResults): void {
  for (const dataset of results.datasets) console.log(`\n${datasetTitle(dataset)}\n${renderTable(dataset.summary)}`)
  if (results.instructions) console.log(`\n${instructionLines(results).join('\n')}`)
}

/**
 * `<outputDir>/<start time>.json`, `.md` and `.html`; the Markdown also to `reportFile` when given,
 * and to GitHub's step summary when run there.
 */
export async function writeResults (results: BenchResults, outputDir: string, reportFile?: string): Promise<void> {
  const stamp = results.startedAt.replace(/[:.]/g, '-')
  await mkdir(outputDir, { recursive: true })
  const base = join(outputDir, stamp)
  const markdown = renderMarkdown(results)
  await writeFile(`${base}.json`, JSON.stringify(results, null, 2))
  await writeFile(`${base}.md`, markdown)
  await writeFile(`${base}.html`, renderHtml(results))
  if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, `${markdown}\n`)
  console.log(`\nresults: ${base}.json, ${base}.md, ${base}.html`)
  if (reportFile) {
    await mkdir(dirname(reportFile), { recursive: true })
    await writeFile(reportFile, markdown)
    console.log(`report: ${reportFile}`)
  }
}

/** The gate: prints every threshold's outcome; false when one failed. */
export async function checkResults (results: BenchResults): Promise<boolean> {
  const outcomes = checkThresholds(results, await loadThresholds())
  console.log(`\n${formatCheck(outcomes)}`)
  return !outcomes.some((outcome) => outcome.status === 'failed')
}
