// Dates the API accepts: what RFC 3339 and JSON Schema's `date` and `date-time` formats allow
// (ajv-formats checks that), narrowed to what PostgreSQL's timestamptz stores and the API can
// answer again as an RFC 3339 date-time. PostgreSQL refuses a UTC offset past ±15:59 and the year
// 0000, even as written before its offset; an instant past 9999 would come back as a five-digit
// year, which RFC 3339 has no room for.
import ajvFormats from 'ajv-formats/dist/formats.js'

const { fullFormats } = ajvFormats
const rfc3339DateTime = fullFormats['date-time'] as { validate: (value: string) => boolean }
const rfc3339Date = fullFormats.date as { validate: (value: string) => boolean }

const MAX_OFFSET_MINUTES = 15 * 60 + 59
/** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in milliseconds since the epoch. */
const EARLIEST = utcMillis(1, 1, 1, 0, 0, 0)
const END = utcMillis(10_000, 1, 1, 0, 0, 0)

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):?(\d{2})?)$/

/** What each format refuses, for the error message that names the field. */
export const DATE_RULES = {
  'date-time': 'must be an RFC 3339 date-time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z ' +
    'with a UTC offset from -15:59 to +15:59, its year written from 0001',
  date: 'must be a YYYY-MM-DD date from 0001-01-01 to 9999-12-31'
} as const

/** An RFC 3339 date-time whose offset and instant PostgreSQL stores, and the API answers as RFC 3339. */
export function storableDateTime (value: string): boolean {
  // ajv-formats also takes any whitespace between date and time; RFC 3339 only T or a space (DATE_TIME).
  const match = rfc3339DateTime.validate(value) ? DATE_TIME.exec(value) : null
  if (match === null) return false
  const [, year, month, day, hour, minute, second, sign, offsetHours, offsetMinutes] = match
  const offsetMagnitude = Number(offsetHours ?? 0) * 60 + Number(offsetMinutes ?? 0)
  const offset = sign === '-' ? -offsetMagnitude : offsetMagnitude
  if (Math.abs(offset) > MAX_OFFSET_MINUTES) return false
  // PostgreSQL reads the date as written, before the offset: 0000-12-31T20:00:00-05:00 names
  // 0001-01-01T01:00:00Z, in range, yet it refuses the year 0000 (a data exception, not a 400 here).
  if (Number(year) === 0) return false
  const local = utcMillis(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second))
  const instant = local - offset * 60_000
  return instant >= EARLIEST && instant < END
}

/** A YYYY-MM-DD date (midnight UTC) in years 0001 to 9999. */
export function storableDate (value: string): boolean {
  return rfc3339Date.validate(value) && !value.startsWith('0000')
}

/** Like Date.UTC, without its mapping of the years 0 to 99 onto 1900 to 1999; a leap second rolls over. */
function utcMillis (year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  return date.getTime()
}
