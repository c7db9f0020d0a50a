// An IndexedDB connection opened on first use and opened again after it is lost: when another context
// needs a newer schema, or the browser closed it (storage cleared). A dead connection must not leave a
// store dead until the SW restarts. A failed open is tried again on the next use.
//
// `existingOnly`: for pages sharing the SW's database. The page never creates or upgrades it (until the
// SW has, the page's store is empty). Creating it runs a version-change transaction, and Chromium
// keeps one open while its page sits frozen in the back/forward cache: a page that navigated away
// during it held the SW's piece store blocked for good (issue 11, seen with `npm run bench:sw`).

import { openDB, type DBSchema, type IDBPDatabase, type OpenDBCallbacks } from 'idb'

export interface ReopeningDbOptions {
  /** Open the database only if it exists at this version or later; never create or upgrade it. Default false. */
  existingOnly?: boolean
  /** Default globalThis.indexedDB (tests pass their own). */
  factory?: Pick<IDBFactory, 'databases'>
}

export function reopeningDb<Schema extends DBSchema>(
  name: string,
  version: number,
  upgrade: NonNullable<OpenDBCallbacks<Schema>['upgrade']>,
  options: ReopeningDbOptions = {},
): () => Promise<IDBPDatabase<Schema>> {
  let db: Promise<IDBPDatabase<Schema>> | undefined
  const open = async () => {
    if (options.existingOnly && !(await exists(name, version, options.factory ?? indexedDB))) {
      throw new DOMException(`${name} does not exist yet`, 'NotFoundError')
    }
    return openDB<Schema>(name, version, {
      upgrade(database, oldVersion, newVersion, transaction, event) {
        // Deleted since the check: abort at once (in this very event), so nothing is created here.
        if (options.existingOnly) return transaction.abort()
        upgrade(database, oldVersion, newVersion, transaction, event)
      },
      blocking(_current, _blocked, event) {
        ;(event.target as IDBDatabase).close()
        db = undefined
      },
      terminated() {
        db = undefined
      },
    })
  }
  return () => {
    if (!db) {
      const opening = open()
      db = opening
      opening.catch(() => {
        if (db === opening) db = undefined
      })
    }
    return db
  }
}

/** Whether the database exists at `version` or later (opening it then runs no version change). */
async function exists(name: string, version: number, factory: Pick<IDBFactory, 'databases'>): Promise<boolean> {
  // Without databases() (old browsers) no page may risk creating it.
  if (typeof factory.databases !== 'function') return false
  const found = (await factory.databases()).find((info) => info.name === name)
  return !!found && (found.version ?? 0) >= version
}
