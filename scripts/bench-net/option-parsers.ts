// Option parsers shared by the benchmark scripts (bench:net, bench:dc, bench:ceiling): commander
// reports the thrown InvalidArgumentError with the option's name and exits before anything runs.

import { InvalidArgumentError } from 'commander'

export const positive = (text: string): number => {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number')
  return n
}

/** A comma-separated list, each item parsed by `parse`. */
export const list = <T>(parse: (item: string) => T) => (text: string): T[] => text.split(',').map((item) => parse(item.trim()))

export const oneOf = <T extends string>(allowed: readonly T[]) => (item: string): T => {
  if (!allowed.includes(item as T)) throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}`)
  return item as T
}
