import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { embeddedDataDir } from '../support/database.ts'
import { eventInput } from '../support/fixtures.ts'
import { within } from '../support/waiting.ts'
import { request, servedBy, startCluster, stillRunning } from '../support/worker-cluster.ts'

const execFileAsync = promisify(execFile)

const title = 'with no DATABASE_URL the primary runs ONE embedded PostgreSQL for both workers, and stops it on exit'
t.test(title, async (t) => {
  // The data stays there, where the test reads it; the database the cluster may have left running is stopped first.
  const dataDir = await embeddedDataDir(t, 'workers')

  const cluster = await startCluster(t, { CACHE_MODE: 'off', EMBEDDED_POSTGRES_DIR: dataDir })
  const primary = cluster.primary.pid!
  const workers = await cluster.workerPids()

  const postmaster = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
  const { stdout: parent } = await execFileAsync('ps', ['-o', 'ppid=', '-p', String(postmaster)])
  t.equal(Number(parent.trim()), primary, 'the PostgreSQL server on the data directory is the primary\'s child')
  const { stdout: all } = await execFileAsync('ps', ['-eo', 'args='])
  const servers = all.split('\n').filter((args) => args.includes(`-D ${dataDir} `))
  t.equal(servers.length, 1, 'one PostgreSQL server runs on the data directory')
  const started = cluster.logs.filter((entry) => /^embedded PostgreSQL listening/.test(entry.msg))
  t.same(started.map((entry) => entry.pid), [primary], 'only the primary started one; the workers were given its URL')

  const created = await request(`${cluster.base}/events`, { method: 'POST', body: eventInput() })
  t.equal(created.status, 201)
  const id = (JSON.parse(created.body) as { id: number }).id
  // New connections until each worker has read the event the other (or it) wrote: one database.
  const readers = new Set<number>()
  for (let attempt = 0; attempt < 20 && readers.size < 2; attempt++) {
    const from = cluster.logs.length
    const reply = await request(`${cluster.base}/events/${id}`)
    t.equal(reply.status, 200)
    readers.add(await servedBy(cluster, reply.localPort, from))
  }
  t.same([...readers].sort((a, b) => a - b), workers, 'both workers read the event from the same database')

  const before = cluster.output.length
  cluster.primary.kill('SIGTERM')
  const exit = await within(cluster.exited, 20_000, 'the primary\'s exit')
  t.equal(exit.code, 0, 'the primary exits 0')
  t.same(await stillRunning([postmaster]), [], 'PostgreSQL stopped with the cluster')
  const aboveInfo = cluster.output.slice(before).filter((line) => !/^\{"level":(10|20|30),/.test(line))
  t.same(aboveInfo.map((line) => line.slice(0, 300)), [], 'the shutdown logs nothing above info')

  // PostgreSQL's own log says when it was asked to stop (log_line_prefix '%m': ms, UTC).
  const serverLog = await readFile(`${dataDir}.log`, 'utf8')
  const shutdown = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC .*received fast shutdown request/m.exec(serverLog)
  t.ok(shutdown, 'PostgreSQL got a fast shutdown request')
  const workerExits = cluster.logs.filter((entry) => entry.msg === 'worker exited').map((entry) => entry.time)
  const lastWorkerExit = Math.max(...workerExits)
  t.ok(Date.parse(`${shutdown?.[1]}T${shutdown?.[2]}Z`) >= lastWorkerExit, 'and only after the last worker had exited')
})
