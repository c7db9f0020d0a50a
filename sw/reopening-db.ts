// An IndexedDB connection opened on first use and opened again after it is lost: when another context
// needs a newer schema, or the browser closed it (storage cleared). A dead connection must not leave a
// store dead until the SW restarts.

import { openDB, type DBSchema, type IDBPDatabase, type OpenDBCallbacks } from 'idb'

export function reopeningDb<Schema extends DBSchema>(
  name: string,
  version: number,
  upgrade: NonNullable<OpenDBCallbacks<Schema>['upgrade']>,
): () => Promise<IDBPDatabase<Schema>> {
  let db: Promise<IDBPDatabase<Schema>> | undefined
  return () =>
    (db ??= openDB<Schema>(name, version, {
      upgrade,
      blocking(_current, _blocked, event) {
        ;(event.target as IDBDatabase).close()
        db = undefined
      },
      terminated() {
        db = undefined
      },
    }))
}
