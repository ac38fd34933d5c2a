import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { freePort } from '../../src/free-port.ts'
import { parseClusterNodes } from '../../src/redis/cluster.ts'
import { redisCommand } from './redis-server.ts'

/** A throw-away Redis Cluster of three masters (with no replicas unless asked) that a test owns. */
export interface RedisCluster {
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, as REDIS_CLUSTER_NODES takes it. */
  nodes: string
  ports: number[]
  /** SIGKILLs every node (the cluster's configuration files stay, so `start` brings it back as it was). */
  stop: () => Promise<void>
  /** Starts the nodes again (or for the first time) and waits for `cluster_state:ok`. */
  start: () => Promise<void>
  /** Runs one command on one node, on a fresh connection. */
  command: (port: number, ...args: Array<string | number>) => Promise<unknown>
  /** SIGKILLs one node (a master dying: with replicas, one of its replicas takes over). */
  kill: (port: number) => Promise<void>
  /** Starts a killed node again; it rejoins with its saved configuration (a replaced master: as a replica). */
  revive: (port: number) => Promise<void>
}

/** Anything with a teardown: a test, or tap's root for a cluster a whole file shares. */
interface Owner {
  teardown: (fn: () => unknown) => void
}

const MASTERS = 3
/** Every wait here gives up after this long, with a message saying what it waited for. */
const WAIT_MS = 10_000
/**
 * `redis-cli --cluster create` polls once a second until the nodes agree on the configuration:
 * 2-4 s on an idle machine, and seen over 10 s while the rest of the suite ran beside it.
 */
const CREATE_WAIT_MS = 30_000

const exec = promisify(execFile)
type ExecError = Error & { stdout?: string, stderr?: string }

/**
 * Three `redis-server --cluster-enabled yes` masters on free ports, joined with
 * `redis-cli --cluster create`, in a temporary directory removed on teardown.
 * @param options.started false: allocate the ports but start nothing yet (a cluster that is down)
 * @param options.replicas replicas per master (default 0); with replicas a node counts as failed
 *   after 1 s without answering (`cluster-node-timeout`), so a failover takes seconds, not 15 s
 */
export async function startRedisCluster (
  t: Owner,
  options: { started?: boolean, replicas?: number } = {}
): Promise<RedisCluster> {
  const replicas = options.replicas ?? 0
  const nodeCount = MASTERS * (1 + replicas)
  const dir = await mkdtemp(join(tmpdir(), 'eventcache-cluster-'))
  const ports: number[] = []
  // The cluster bus listens on a port of its own (client port + 10000 unless told): pick it
  // too, so that port cannot be taken or out of range.
  const busPorts: number[] = []
  while (ports.length < nodeCount) {
    const port = await freePort()
    const bus = await freePort()
    const taken = [...ports, ...busPorts]
    if (!taken.includes(port) && !taken.includes(bus) && port !== bus) {
      ports.push(port)
      busPorts.push(bus)
    }
  }
  const children: ChildProcess[] = []
  let created = false

  const command = (port: number, ...args: Array<string | number>) => redisCommand(port, '127.0.0.1', ...args)

  /** Polls `check` until it holds; gives up after WAIT_MS, or at once if `child` has exited. */
  const waitFor = async (what: string, check: () => Promise<boolean>, child?: ChildProcess) => {
    const deadline = Date.now() + WAIT_MS
    while (Date.now() < deadline) {
      if (child && child.exitCode !== null) {
        throw new Error(`Redis Cluster: redis-server exited (code ${child.exitCode}) before ${what}; its port taken?`)
      }
      if (await check().catch(() => false)) return
      await sleep(50)
    }
    throw new Error(`Redis Cluster on ports ${ports.join(', ')}: ${what} not within ${WAIT_MS} ms`)
  }

  const spawnNode = (i: number): ChildProcess => spawn('redis-server', [
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, `nodes-${ports[i]}.conf`),
    '--cluster-port', String(busPorts[i]),
    '--port', String(ports[i]),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--loglevel', 'warning',
    ...(replicas > 0 ? ['--cluster-node-timeout', '1000'] : [])
  ], { stdio: 'ignore' })

  const start = async () => {
    const started = ports.map((port, i) => {
      const child = spawnNode(i)
      children.push(child)
      return { port, child }
    })
    // Watching our own process too: a port freePort found can be taken by another test's server
    // before ours binds it, and then ours exits while the other one answers PING.
    for (const { port, child } of started) {
      await waitFor(`redis-server answering PING on ${port}`, async () => await command(port, 'PING') === 'PONG', child)
    }
    if (!created) {
      const addresses = ports.map((port) => `127.0.0.1:${port}`)
      const args = ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes']
      await exec('redis-cli', args, { timeout: CREATE_WAIT_MS }).catch((error: ExecError) => {
        const output = `${error.stdout ?? ''}${error.stderr ?? ''}`
        throw new Error(`redis-cli --cluster create failed: ${error.message}\n${output}`)
      })
      created = true
    }
    for (const port of ports) {
      const info = async (...section: string[]) => String(await command(port, ...section))
      const clusterOk = async () => (await info('CLUSTER', 'INFO')).includes('cluster_state:ok')
      await waitFor(`cluster_state:ok on ${port}`, clusterOk)
      // A replica can take over only once it has synchronised with its master.
      const inSync = /role:master|master_link_status:up/
      await waitFor(`${port} a master or a replica in sync`, async () => inSync.test(await info('INFO', 'replication')))
    }
  }

  const revive = async (port: number) => {
    const child = spawnNode(ports.indexOf(port))
    children[ports.indexOf(port)] = child
    await waitFor(`redis-server answering PING on ${port}`, async () => await command(port, 'PING') === 'PONG', child)
  }

  const killNode = async (child: ChildProcess | undefined) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  const kill = (port: number) => killNode(children[ports.indexOf(port)])

  const stop = async () => {
    await Promise.all(children.splice(0).map(killNode))
  }

  // A test process that dies without its teardown must not leave redis-servers behind.
  const killOnExit = () => { for (const child of children) child.kill('SIGKILL') }
  process.once('exit', killOnExit)
  t.teardown(async () => {
    process.removeListener('exit', killOnExit)
    await stop()
    await rm(dir, { recursive: true, force: true })
  })

  if (options.started !== false) await start()
  return { nodes: ports.map((port) => `127.0.0.1:${port}`).join(','), ports, stop, start, command, kill, revive }
}

let shared: Promise<RedisCluster> | undefined

/**
 * A cluster for tests that just need one: REDIS_CLUSTER_NODES when set, else one throw-away
 * cluster per test process (a file), torn down when the file ends. Starting one takes about 3 s
 * (`redis-cli --cluster create` waits in whole seconds for the nodes to meet), too long to pay
 * per test; tests share it under key prefixes of their own, as they share REDIS_URL.
 */
export async function testClusterNodes (): Promise<string> {
  if (process.env.REDIS_CLUSTER_NODES) return process.env.REDIS_CLUSTER_NODES
  // tap's root is imported here, not at the top: test/setup/ imports the helpers outside any test.
  shared ??= import('tap').then(({ default: root }) => startRedisCluster(root))
  return (await shared).nodes
}

/** One command on the first node of `nodes` (host:port,…), on a connection of its own (never the app's client). */
export async function onNode (nodes: string, ...args: Array<string | number>): Promise<unknown> {
  const { host, port } = parseClusterNodes(nodes)[0]!
  return redisCommand(port, host, ...args)
}

type SlotRange = [from: number, to: number]

/** The masters as the first node of `nodes` sees them (CLUSTER SLOTS), each with the slot ranges it serves. */
export async function shards (nodes: string): Promise<Array<{ address: string, ranges: SlotRange[] }>> {
  type SlotsEntry = [...SlotRange, master: [host: string, port: number, ...unknown[]], ...replicas: unknown[]]
  const slots = await onNode(nodes, 'CLUSTER', 'SLOTS') as SlotsEntry[]
  const byAddress = new Map<string, SlotRange[]>()
  for (const [from, to, [host, port]] of slots) {
    const address = `${host}:${port}`
    byAddress.set(address, [...byAddress.get(address) ?? [], [from, to]])
  }
  return [...byAddress].map(([address, ranges]) => ({ address, ranges }))
}

/**
 * The replicas of the master at `address`, as it reports them (INFO replication). CLUSTER SLOTS
 * leaves out a replica until gossip has carried its replication offset, which right after the
 * cluster is formed it may not have yet.
 */
export async function replicasOf (address: string): Promise<string[]> {
  const info = String(await onNode(address, 'INFO', 'replication'))
  return [...info.matchAll(/^slave\d+:ip=([^,]+),port=(\d+)/gm)].map(([, host, port]) => `${host}:${port}`)
}

/** The port of a `host:port` address. */
export function portOf (address: string): number {
  return parseClusterNodes(address)[0]!.port
}

export async function keySlot (nodes: string, key: string): Promise<number> {
  return await onNode(nodes, 'CLUSTER', 'KEYSLOT', key) as number
}

/** The master that serves `key` (host:port). */
export async function masterOf (nodes: string, key: string): Promise<string> {
  const slot = await keySlot(nodes, key)
  return (await shards(nodes)).find(({ ranges }) => ranges.some(([from, to]) => slot >= from && slot <= to))!.address
}
