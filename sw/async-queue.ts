// A push-based async iterable: producers push, one consumer iterates. Ending early (break/return)
// calls onCancel so producers can stop.

export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(value: T): void
  /** Ends the iteration after the queued values; with an error, the consumer's next() rejects with it. */
  end(error?: unknown): void
}

export function createAsyncQueue<T>(onCancel?: () => void): AsyncQueue<T> {
  const values: T[] = []
  let ended = false
  let failure: { error: unknown } | undefined
  let wake: (() => void) | undefined

  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }

  return {
    push(value) {
      if (ended) return
      values.push(value)
      notify()
    },
    end(error) {
      if (ended) return
      ended = true
      if (error !== undefined) failure = { error }
      notify()
    },
    [Symbol.asyncIterator](): AsyncIterator<T> {
      return {
        async next(): Promise<IteratorResult<T>> {
          while (values.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve))
          if (values.length > 0) return { done: false, value: values.shift() as T }
          if (failure) throw failure.error
          return { done: true, value: undefined }
        },
        async return(): Promise<IteratorResult<T>> {
          if (!ended) {
            ended = true
            values.length = 0
            notify()
            onCancel?.()
          }
          return { done: true, value: undefined }
        },
      }
    },
  }
}
