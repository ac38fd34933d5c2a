import pg from 'pg'

export interface ChangeListenerHandlers {
  /** LISTEN is in place: everything committed from now on is heard. Runs before any message. */
  connected: () => Promise<void>
  /** A message, in commit order; the next waits until this one's promise settles. */
  message: (payload: string) => Promise<void>
  /** The connection is gone (messages sent until the next `connected` are lost for good). */
  lost: (error: Error) => void
}

export interface ChangeListenerOptions {
  client: pg.ClientConfig
  channel: string
  handlers: ChangeListenerHandlers
  /** A failed connect is tried again after `retryMs`, doubling up to `maxRetryMs`. */
  retryMs: number
  maxRetryMs: number
  /** A query this often, so a connection that died silently is noticed (TCP keep-alive takes minutes). */
  heartbeatMs: number
}

/**
 * LISTEN on a connection of its own (a pool client would be handed back, and LISTEN with it),
 * kept open for the life of the process: reconnects with back-off whenever it is lost. Messages
 * are handed over one at a time, in the order PostgreSQL delivers them (commit order).
 */
export class ChangeListener {
  readonly #options: ChangeListenerOptions
  #client: pg.Client | undefined
  #queue: Promise<void> = Promise.resolve()
  /** The last query sent: the next waits for it (pg deprecates queueing queries on a client). */
  #lastQuery: Promise<unknown> = Promise.resolve()
  #retryMs: number
  #retry: NodeJS.Timeout | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #stopped = false

  constructor (options: ChangeListenerOptions) {
    this.#options = options
    this.#retryMs = options.retryMs
  }

  /** Whether LISTEN is in place now. */
  get listening (): boolean {
    return this.#client !== undefined
  }

  /** Connects; resolves once listening, or after the first attempt failed (it keeps trying). */
  async start (): Promise<void> {
    await this.#connect()
  }

  /** Sends a message on the channel (on this connection: it is delivered to this listener too). */
  async notify (payload: string): Promise<void> {
    if (this.#client === undefined) throw new Error('not connected to PostgreSQL')
    await this.#query(this.#client, 'SELECT pg_notify($1, $2)', [this.#options.channel, payload])
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retry)
    clearInterval(this.#heartbeat)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
    await this.#queue
  }

  async #connect (): Promise<void> {
    const client = new pg.Client(this.#options.client)
    let lost = false
    const lose = (error: Error) => {
      if (lost) return
      lost = true
      if (this.#client === client) this.#client = undefined
      clearInterval(this.#heartbeat)
      client.end().catch(() => {})
      if (this.#stopped) return
      this.#options.handlers.lost(error)
      this.#scheduleRetry()
    }
    client.on('error', lose)
    client.on('end', () => lose(new Error('the PostgreSQL connection ended')))
    // A message can arrive in the same network read as LISTEN's answer, before `connected` is queued.
    let early: string[] | undefined = []
    client.on('notification', ({ channel, payload }) => {
      if (channel !== this.#options.channel || payload === undefined || lost) return
      if (early !== undefined) early.push(payload)
      else this.#enqueue(() => this.#options.handlers.message(payload))
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#options.channel)}`)
    } catch (error) {
      lose(error as Error)
      return
    }
    if (this.#stopped) {
      await client.end().catch(() => {})
      return
    }
    this.#client = client
    this.#retryMs = this.#options.retryMs
    this.#heartbeat = setInterval(() => {
      this.#query(client, 'SELECT 1').catch((error: Error) => lose(error))
    }, this.#options.heartbeatMs)
    this.#heartbeat.unref()
    const connected = this.#enqueue(() => this.#options.handlers.connected())
    for (const payload of early) this.#enqueue(() => this.#options.handlers.message(payload))
    early = undefined
    await connected
  }

  /** Runs `text` on `client` once every query sent before it has settled. */
  #query (client: pg.Client, text: string, values?: unknown[]): Promise<unknown> {
    const query = this.#lastQuery.then(() => client.query(text, values))
    this.#lastQuery = query.catch(() => {})
    return query
  }

  #enqueue (work: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(work).catch(() => {})
    return this.#queue
  }

  #scheduleRetry (): void {
    const delay = this.#retryMs
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.maxRetryMs)
    this.#retry = setTimeout(() => { this.#connect().catch(() => {}) }, delay)
    this.#retry.unref()
  }
}
