// A function that does its work on the first call only: a release, a cleanup, called from more than
// one place (an end and an abort), must not count twice.

export function once(fn: () => void): () => void {
  let called = false
  return () => {
    if (called) return
    called = true
    fn()
  }
}
