import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import t from 'tap'
import { buildTestApp } from '../support/app.ts'
import { cacheEnv } from '../support/cache-modes.ts'
import { postEvent } from '../support/fixtures.ts'

const CHROMIUM = '/usr/bin/chromium'
/** Screenshots are kept as artifacts of the run, never committed. */
export const ARTIFACTS = '.data/test-artifacts'

// Debian's Chromium, never a downloaded browser. .ci/run installs it; elsewhere the README says
// `apt-get install chromium` and, without it, why these tests are skipped.
const skip = existsSync(CHROMIUM)
  ? false
  : `browser tests need Debian's Chromium at ${CHROMIUM} (apt-get install chromium)`

t.test('the cache panel and Swagger UI in a real browser', { skip }, async (t) => {
  const app = await buildTestApp(t, await cacheEnv(t, 'memory'))
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const event = await postEvent(app, { name: 'DjangoCon US 2020' })
  await mkdir(ARTIFACTS, { recursive: true })

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps dialling out, which this machine refuses.
    // (Playwright gives it a fresh, empty profile of its own.)
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'
    ]
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })

  await page.goto(`${base}/_cache`)
  await page.locator('#updated').filter({ hasText: 'updated' }).waitFor()
  t.equal(await page.locator('#mode').textContent(), 'memory')

  // API requests made from outside the page show up in it, with their outcome.
  await fetch(`${base}/events`)
  await fetch(`${base}/events`)
  await fetch(`${base}/events/${event.id}`)
  const rows = page.locator('#requests tbody tr')
  await rows.filter({ hasText: `GET /events/${event.id}` }).waitFor()
  const listRows = rows.filter({ hasText: /GET \/events\s*200/ })
  const outcome = 'td:nth-child(4) .badge'
  t.same(await listRows.locator(outcome).allTextContents(), ['HIT', 'MISS'], 'newest first: the hit, then the miss')
  t.match(await rows.first().textContent(), /lookup\s*MISS/, 'each request shows its cache operations')
  await page.screenshot({ path: join(ARTIFACTS, 'cache-panel.png'), fullPage: true })

  // Flush a namespace: the next request is a miss, and the panel says so.
  await page.getByRole('button', { name: 'flush GET /events', exact: true }).click()
  await page.locator('#flush-result').filter({ hasText: 'flushed 1 entry of GET /events' }).waitFor()
  t.equal((await fetch(`${base}/events`)).headers.get('x-cache'), 'MISS')
  const newest = page.locator('#requests tbody tr:first-child')
  await newest.filter({ hasText: /GET \/events\s*200/ }).waitFor()
  t.equal(await newest.locator(outcome).textContent(), 'MISS', 'after the flush the panel shows the miss')

  // Inspect a key from a request's story: TTL and size, never the value.
  await rows.first().locator('.ops button.key').first().click() // the key the miss looked up
  await page.locator('#inspect-result').filter({ hasText: /bytes, expires in/ }).waitFor()
  t.notMatch(await page.content(), /DjangoCon US 2020/, 'no cached value on the page')

  // The API documentation lists the routes.
  await page.goto(`${base}/docs`)
  await page.locator('.opblock-summary-path').first().waitFor()
  const paths = await page.locator('.opblock-summary-path').allTextContents()
  for (const path of ['/events', '/events/{id}', '/events/{id}/guests', '/guests', '/guests/{id}', '/health']) {
    t.ok(paths.some((text) => text.replace(/\u200b/g, '') === path), `/docs lists ${path}`)
  }
  await page.screenshot({ path: join(ARTIFACTS, 'docs.png') })
})
