// npm run db:seed -- --events N --guests-per-event M [--truncate]
import { parseArgs } from 'node:util'
import { loadConfig } from '../config.ts'
import { exitIfExplained } from '../explained-errors.ts'
import { withDatabase } from '../db/connection.ts'
import { migrate } from '../db/migrate.ts'
import { seed } from '../db/seed.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    'guests-per-event': { type: 'string', default: '10' },
    truncate: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false }
  }
})

if (values.help) {
  console.log('usage: npm run db:seed -- [--events N] [--guests-per-event M] [--truncate]\n' +
    'Adds N events (default 1000) with M guests each (default 10); --truncate empties both tables first.')
  process.exit(0)
}

const events = wholeNumber('--events', values.events)
const guestsPerEvent = wholeNumber('--guests-per-event', values['guests-per-event'])

try {
  await withDatabase(loadConfig(), async (pool) => {
    await migrate(pool)
    const started = performance.now()
    const added = await seed(pool, { events, guestsPerEvent, truncate: values.truncate })
    const seconds = (performance.now() - started) / 1000
    const emptied = values.truncate ? 'emptied the tables, then ' : ''
    console.log(`${emptied}added ${added.events} events and ${added.guests} guests in ${seconds.toFixed(1)} s`)
  })
} catch (error) {
  exitIfExplained(error)
  throw error
}

function wholeNumber (flag: string, value: string): number {
  const number = Number(value)
  if (!Number.isInteger(number) || number < 0) {
    console.error(`${flag} must be a whole number, got ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return number
}
