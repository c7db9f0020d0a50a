// Messages between the origin process and its seeder process.

import type { SeederOptions, SeederStats } from './site-seeder.ts'

export type SerializableSeederOptions = Omit<SeederOptions, 'onWarning'>

export type ParentMessage = { type: 'start'; options: SerializableSeederOptions } | { type: 'close' }

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'warning'; message: string }
  | { type: 'stats'; stats: SeederStats }
