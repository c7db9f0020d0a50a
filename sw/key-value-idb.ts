// KeyValueStore on IndexedDB (idb), for the manifest trust state that must survive SW restarts.

import { openDB, type DBSchema, type IDBPDatabase } from 'idb'
import type { KeyValueStore } from './key-value-store.ts'

interface KeyValueDB extends DBSchema {
  kv: { key: string; value: string }
}

export function createIdbKeyValueStore(dbName = 'swarmcdn-sw-state'): KeyValueStore {
  let db: Promise<IDBPDatabase<KeyValueDB>> | undefined
  const open = () =>
    (db ??= openDB<KeyValueDB>(dbName, 1, {
      upgrade(database) {
        database.createObjectStore('kv')
      },
      // Reopen on next use after the browser closed the connection or a newer schema waits for us.
      blocking(_current, _blocked, event) {
        ;(event.target as IDBDatabase).close()
        db = undefined
      },
      terminated() {
        db = undefined
      },
    }))
  return {
    async get(key) {
      return (await open()).get('kv', key)
    },
    async set(key, value) {
      await (await open()).put('kv', value, key)
    },
  }
}
