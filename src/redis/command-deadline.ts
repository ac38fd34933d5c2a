import type { Command, Redis } from 'ioredis'

/**
 * Command deadlines, whose window is REDIS_COMMAND_TIMEOUT_MS: a timer
 * running this share of a window late means the process was not running, and the commands waiting get
 * a fresh window, up to `windows` in all. Half a window is more than a busy event loop is late by, and
 * less than the stops that hold a process up (a CPU quota's throttling, a host short of CPU, a signal).
 */
export const COMMAND_DEADLINE = { stallShare: 0.5, windows: 3 } as const

/** What a deadline needs of a command: ioredis' Command, whose `isSettled`, `reject` and `promise` are public. */
export type PendingCommand = Pick<Command, 'isSettled' | 'reject' | 'promise'>

/** Where ioredis writes a command: the connection, or a pipeline being sent. */
type CommandStream = Parameters<Redis['sendCommand']>[1]

interface Watched {
  command: PendingCommand
  /**
   * The command's promise when it was sent: a cluster pipeline retried after an error (CLUSTERDOWN,
   * MOVED…) starts the same Command over with a new promise, which this send's deadline must not end.
   */
  attempt: Promise<unknown>
  /** When its window ends (performance.now()). */
  due: number
  /** Windows it may still be given, this one included. */
  windows: number
}

/**
 * Gives every command `redis` sends a deadline of `windowMs` (CommandDeadlines), in place of ioredis'
 * `commandTimeout`. A command sent again (a cluster redirection) is watched again; the first deadline
 * to end it wins, so it is never given longer than its first.
 */
export function watchCommands (redis: Redis, windowMs: number): void {
  const deadlines = new CommandDeadlines(windowMs)
  const send = redis.sendCommand
  redis.sendCommand = function sendWithDeadline (this: Redis, command: Command, stream: CommandStream) {
    const sent = send.call(this, command, stream)
    if (!command.isSettled) deadlines.watch(command)
    return sent
  }
}

/**
 * One connection's commands awaiting an answer, oldest first. A command fails when Redis has not
 * answered within `windowMs` of this process running, not of the clock: a timer cannot tell a slow
 * Redis from a process that was not running (a CPU quota, a busy host, a long pause), whose answer
 * is waiting in the socket when it runs again, and Node runs due timers before it reads sockets, so
 * a plain timeout fails such a command before its answer is read.
 * - The verdict waits for an immediate: immediates run after the poll phase, which reads what the
 *   sockets hold, so an answer that arrived while the timer was due settles its command first.
 * - A timer (or that immediate) that runs `stallShare` of a window late means the process was not
 *   running for that long: every command still waiting gets a fresh window from now instead of
 *   failing, up to `windows` windows in all, so a process that keeps stalling still fails a Redis
 *   that is gone.
 * A process that runs on time fails a silent Redis one window and one loop turn after sending.
 *
 * One timer per connection, set for the oldest command's deadline, rather than one per command:
 * commands are sent in order, so their deadlines come in that order too (a fresh window goes to
 * every command waiting, and the commands sent after it end later still).
 * @see https://nodejs.org/en/learn/asynchronous-work/event-loop-timers-and-nexttick
 */
export class CommandDeadlines {
  readonly #windowMs: number
  readonly #stallMs: number
  #queue: Watched[] = []
  /** Where the commands not known to be settled begin in #queue. */
  #head = 0
  #timer: NodeJS.Timeout | undefined
  #timerDue = 0
  #judging = false

  constructor (windowMs: number) {
    this.#windowMs = windowMs
    this.#stallMs = windowMs * COMMAND_DEADLINE.stallShare
  }

  watch (command: PendingCommand): void {
    this.#dropSettled()
    this.#queue.push({
      command,
      attempt: command.promise,
      due: performance.now() + this.#windowMs,
      windows: COMMAND_DEADLINE.windows
    })
    this.#arm()
  }

  readonly #check = (): void => {
    this.#timer = undefined
    const firedAt = performance.now()
    if (firedAt - this.#timerDue >= this.#stallMs) this.#freshWindows(firedAt)
    this.#dropSettled()
    const oldest = this.#queue[this.#head]
    if (oldest === undefined) return
    if (oldest.due > firedAt) return this.#arm()
    this.#judging = true
    setImmediate(this.#judge, firedAt)
  }

  readonly #judge = (firedAt: number): void => {
    const now = performance.now()
    if (now - firedAt >= this.#stallMs) this.#freshWindows(now)
    // A rejection can send a command on this connection (watch) while this loop runs over the queue.
    const [queue, head] = [this.#queue, this.#head]
    try {
      for (let i = head; i < queue.length && queue[i]!.due <= firedAt; i++) {
        const watched = queue[i]!
        if (!over(watched)) watched.command.reject(new Error(`Command timed out: no answer in ${this.#windowMs} ms`))
      }
    } finally {
      this.#judging = false
      this.#dropSettled()
      this.#arm()
    }
  }

  /** The process was not running: every command still waiting gets a fresh window, if it has one left. */
  #freshWindows (now: number): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const watched = this.#queue[i]!
      if (over(watched) || watched.windows <= 1) continue
      watched.due = now + this.#windowMs
      watched.windows--
    }
  }

  /** Sets the timer for the oldest command's deadline, unless it is set or a verdict is due. */
  #arm (): void {
    if (this.#timer !== undefined || this.#judging) return
    const oldest = this.#queue[this.#head]
    if (oldest === undefined) return
    const now = performance.now()
    const delay = Math.max(0, oldest.due - now)
    this.#timerDue = now + delay
    // While commands wait, their connection keeps the process alive; the timer need not, nor after.
    this.#timer = setTimeout(this.#check, delay).unref()
  }

  /** Answers arrive in the order commands were sent: the settled ones are at the front. */
  #dropSettled (): void {
    while (this.#head < this.#queue.length && over(this.#queue[this.#head]!)) this.#head++
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    } else if (this.#head > 1_024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }
}

/** Whether a send is over: its command settled, or started over (and watched again where it was sent). */
function over ({ command, attempt }: Watched): boolean {
  return command.isSettled || command.promise !== attempt
}
