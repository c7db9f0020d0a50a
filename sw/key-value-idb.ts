// KeyValueStore on IndexedDB (idb), for the manifest trust state that must survive SW restarts.

import type { DBSchema } from 'idb'
import { reopeningDb } from './reopening-db.ts'
import type { KeyValueStore } from './key-value-store.ts'

interface KeyValueDB extends DBSchema {
  kv: { key: string; value: string }
}

export function createIdbKeyValueStore(dbName = 'swarmcdn-sw-state'): KeyValueStore {
  const open = reopeningDb<KeyValueDB>(dbName, 1, (database) => {
    database.createObjectStore('kv')
  })
  return {
    async get(key) {
      return (await open()).get('kv', key)
    },
    async set(key, value) {
      await (await open()).put('kv', value, key)
    },
  }
}
