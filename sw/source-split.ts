// How a read-ahead window's bytes split between HTTP and peers when both can deliver them.
//
// With HTTP at rate h and peers at rate p (both measured), the split that ends soonest gives HTTP
// h / (h + p): the window takes B / (h + p). HTTP alone would take B / h. Any finish time in between
// is no slower than plain HTTP, and the later it is, the more of the window peers deliver: peers take
// p × T of it. `offloadBias` (0…1) places the finish time T between the two, and this returns HTTP's
// share of the window for that time.

/** HTTP's share (0…1) of a window, given the two measured rates (bytes/s) and the bias towards offload. */
export function httpShare(httpRate: number, peerRate: number, offloadBias: number): number {
  if (!(httpRate > 0)) return 0
  if (!(peerRate > 0)) return 1
  const fastest = httpRate / (httpRate + peerRate)
  // Peers deliver p × B/h by the time HTTP alone would have finished: HTTP needs only the rest.
  const atPlainSpeed = Math.max(0, 1 - peerRate / httpRate)
  const bias = Math.min(1, Math.max(0, offloadBias))
  return fastest + (atPlainSpeed - fastest) * bias
}
