// Page side of `npm run bench:ceiling` (crowd-ceiling.ts), added as an init script: a full mesh of
// negotiated data channels set up through the probe, and one timed run (http, mesh, mesh-store, ...).
// Plain JavaScript on purpose: it is the raw browser, with no swarmcdn code.
;(() => {
  const pcs = new Map()
  const channels = new Map()
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

  function makeConnection(peer, stunUrl) {
    const pc = new RTCPeerConnection({ iceServers: [{ urls: stunUrl }] })
    const channel = pc.createDataChannel('mesh', { negotiated: true, id: 0, ordered: true })
    channel.binaryType = 'arraybuffer'
    pcs.set(peer, pc)
    channels.set(peer, channel)
    return pc
  }

  function gathered(pc) {
    return new Promise((resolve) => {
      const done = () => resolve({ type: pc.localDescription.type, sdp: pc.localDescription.sdp })
      if (pc.iceGatheringState === 'complete') return done()
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done())
      setTimeout(done, 3000)
    })
  }

  function openStore() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open('ceiling', 1)
      request.onupgradeneeded = () => request.result.createObjectStore('pieces')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
  }

  /** Hashes and stores 64 KiB pieces of one source's contiguous bytes, as a service worker would. */
  function pieceStore(db) {
    const PIECE = 64 * 1024
    const partial = new Map()
    let pending = 0
    let idle = null
    const put = (key, bytes) => {
      pending++
      crypto.subtle.digest('SHA-1', bytes).then((digest) => new Promise((resolve, reject) => {
        const tx = db.transaction('pieces', 'readwrite')
        tx.objectStore('pieces').put({ digest, blob: new Blob([bytes]) }, key)
        tx.oncomplete = resolve
        tx.onerror = () => reject(tx.error)
      })).finally(() => {
        pending--
        if (pending === 0 && idle) idle()
      })
    }
    return {
      add(source, chunk, last) {
        let entry = partial.get(source)
        if (!entry) partial.set(source, (entry = { bytes: new Uint8Array(PIECE), fill: 0, index: 0 }))
        let data = new Uint8Array(chunk)
        while (data.byteLength > 0) {
          const take = Math.min(PIECE - entry.fill, data.byteLength)
          entry.bytes.set(data.subarray(0, take), entry.fill)
          entry.fill += take
          data = data.subarray(take)
          if (entry.fill === PIECE) {
            put(`${source}:${entry.index++}`, entry.bytes)
            entry.bytes = new Uint8Array(PIECE)
            entry.fill = 0
          }
        }
        if (last && entry.fill > 0) put(`${source}:${entry.index++}`, entry.bytes.slice(0, entry.fill))
      },
      settled: () => (pending === 0 ? Promise.resolve() : new Promise((resolve) => (idle = resolve))),
    }
  }

  /**
   * mesh-page: the blob is the bench page's assets end to end; each is rendered as the bench page
   * renders it (images decoded, the film played muted at 16× until buffered or ended, the download
   * hashed) from a Blob of its bytes, as soon as every byte of it is held.
   */
  function pageRenderer(assets, totalBytes) {
    const whole = new Uint8Array(totalBytes)
    const pending = new Set(assets)
    const rendered = []
    const render = async (asset) => {
      const blob = new Blob([whole.subarray(asset.start, asset.end)], { type: asset.type })
      if (asset.kind === 'download') return crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
      const url = URL.createObjectURL(blob)
      if (asset.kind === 'image') {
        const img = new Image()
        img.style.width = '240px'
        img.src = url
        document.body.append(img)
        return img.decode()
      }
      const film = document.createElement('video')
      film.style.width = '320px'
      film.muted = true
      film.preload = 'auto'
      film.src = url
      document.body.append(film)
      film.defaultPlaybackRate = 16
      film.playbackRate = 16
      await new Promise((resolve, reject) => {
        const check = () => {
          const b = film.buffered
          if (film.ended || (b.length === 1 && b.start(0) <= 0.05 && film.duration > 0 && b.end(0) >= film.duration - 0.05)) clearInterval(timer), resolve()
        }
        const timer = setInterval(check, 50)
        film.addEventListener('progress', check)
        film.addEventListener('ended', check)
        film.addEventListener('error', () => (clearInterval(timer), reject(new Error('media error'))))
        film.play().catch(reject)
      })
    }
    return {
      /** `bytes` arrived at `offset`; `heldTo(start, end)` says whether every byte of a range is held. */
      add(offset, bytes, heldTo) {
        whole.set(new Uint8Array(bytes), offset)
        for (const asset of pending) {
          if (!heldTo(asset.start, asset.end)) continue
          pending.delete(asset)
          rendered.push(render(asset))
        }
      },
      done: async () => (await Promise.all(rendered), pending.size === 0),
    }
  }

  async function run({ index, n, totalBytes, startAt, url, mode, chunkBytes, windowBytes, paceBytesPerSec, pullPieces, assets }) {
    const store = mode === 'mesh-store' || mode === 'mesh-page' ? pieceStore(await openStore()) : null
    const page = mode === 'mesh-page' ? pageRenderer(assets, totalBytes) : null
    let held = 0
    let fromOrigin = 0
    let fromPeers = 0
    if (mode === 'newcomer-http' && index !== 0) return { doneMs: null, fromOrigin, fromPeers }
    if (mode === 'http' || mode === 'newcomer-http') {
      await sleep(startAt - Date.now())
      const reader = (await fetch(url, { cache: 'no-store' })).body.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        fromOrigin += value.byteLength
      }
      return { doneMs: Date.now() - startAt, fromOrigin, fromPeers }
    }

    // newcomer-peers: visitor 1 (index 0) gets the blob from the others, who hold it in memory
    // (prefetched), each sending it a 1/(n−1) share.
    const newcomer = mode === 'newcomer-peers'
    const sharers = newcomer ? n - 1 : n
    const shareOf = (i) => (newcomer ? i - 1 : i)
    const boundary = (k) => Math.floor((k * totalBytes) / sharers)
    const shareStart = boundary(shareOf(index))
    const shareEnd = boundary(shareOf(index) + 1)
    const shares = Array.from({ length: n }, (_, i) => boundary(shareOf(i) + 1) - boundary(shareOf(i)))
    const peers = newcomer && index !== 0 ? [0] : [...channels.keys()]
    const out = new Map(peers.map((peer) => [peer, { queue: [], sent: 0, acked: 0 }]))
    let wake = null
    const poke = () => {
      const resolve = wake
      wake = null
      if (resolve) resolve()
    }
    // Bytes held of each share, from its start (shares arrive in order, from the origin or one peer).
    const heldOfShare = new Array(sharers).fill(0)
    const heldTo = (start, end) => {
      for (let k = 0; k < sharers; k++) {
        const from = Math.max(start, boundary(k))
        const to = Math.min(end, boundary(k + 1))
        if (from < to && boundary(k) + heldOfShare[k] < to) return false
      }
      return true
    }
    const arrived = (share, bytes) => {
      const offset = boundary(share) + heldOfShare[share]
      heldOfShare[share] += bytes.byteLength
      if (page) page.add(offset, bytes, heldTo)
    }
    let resolveHeld
    const allHeld = new Promise((resolve) => (resolveHeld = resolve))
    const count = (bytes) => {
      held += bytes
      if (held >= totalBytes) resolveHeld()
    }
    // mesh-pull: each visitor announces how many 64 KiB pieces of its share it holds (`h<count>`);
    // the others ask for pieces (`r<piece>`), at most pullPieces in flight in all, and the owner
    // sends them in order; `d` says a visitor has everything (its peers may stop serving it).
    const pull = mode === 'mesh-pull'
    const CHUNKS_PER_PIECE = 4
    const ownChunks = []
    const avail = new Map(peers.map((peer) => [peer, 0]))
    const nextPiece = new Map(peers.map((peer) => [peer, 0]))
    const inFlight = new Map(peers.map((peer) => [peer, []]))
    const doneFrom = new Set()
    let requested = 0
    let nextOwner = 0
    const pieceBytes = (owner, piece) => Math.min(shares[owner], (piece + 1) * CHUNKS_PER_PIECE * chunkBytes) - piece * CHUNKS_PER_PIECE * chunkBytes
    const askPeers = () => {
      for (let progress = true; progress && requested < pullPieces; ) {
        progress = false
        for (let k = 0; k < peers.length && requested < pullPieces; k++) {
          const owner = peers[(nextOwner + k) % peers.length]
          const piece = nextPiece.get(owner)
          if (piece >= avail.get(owner)) continue
          channels.get(owner).send(`r${piece}`)
          inFlight.get(owner).push({ left: pieceBytes(owner, piece) })
          nextPiece.set(owner, piece + 1)
          requested++
          progress = true
        }
        nextOwner = (nextOwner + 1) % peers.length
      }
    }
    const announce = (count) => {
      for (const peer of peers) channels.get(peer).send(`h${count}`)
    }
    for (const peer of peers) {
      const channel = channels.get(peer)
      let got = 0
      channel.onmessage = (event) => {
        if (typeof event.data === 'string') {
          const kind = event.data[0]
          if (kind === 'h') avail.set(peer, Number(event.data.slice(1)))
          else if (kind === 'r') {
            const first = Number(event.data.slice(1)) * CHUNKS_PER_PIECE
            out.get(peer).queue.push(...ownChunks.slice(first, first + CHUNKS_PER_PIECE))
          } else if (kind === 'd') doneFrom.add(peer)
          else out.get(peer).acked = Number(event.data)
          if (kind === 'h') askPeers()
          poke()
          return
        }
        got += event.data.byteLength
        fromPeers += event.data.byteLength
        arrived(shareOf(peer), event.data)
        channel.send(String(got))
        if (pull) {
          const head = inFlight.get(peer)[0]
          head.left -= event.data.byteLength
          if (head.left <= 0) {
            inFlight.get(peer).shift()
            requested--
            askPeers()
          }
        }
        if (store) store.add(`peer${peer}`, event.data, got === shares[peer])
        count(event.data.byteLength)
      }
    }

    // Listening before the start, so nothing a faster page sends is missed.
    await sleep(startAt - Date.now())
    let originDone = false
    const fetchShare = newcomer ? sendHeld() : fetchOwnShare()
    async function sendHeld() {
      if (index !== 0) {
        for (let at = shareStart; at < shareEnd; at += chunkBytes) out.get(0).queue.push(prefetched.subarray(at, Math.min(at + chunkBytes, shareEnd)))
        poke()
      }
      originDone = true
      poke()
    }
    async function fetchOwnShare() {
      const response = await fetch(url, { cache: 'no-store', headers: { Range: `bytes=${shareStart}-${shareEnd - 1}` } })
      const reader = response.body.getReader()
      let chunk = new Uint8Array(chunkBytes)
      let fill = 0
      const emit = (bytes, last) => {
        fromOrigin += bytes.byteLength
        arrived(shareOf(index), bytes)
        if (pull) {
          ownChunks.push(bytes)
          if (ownChunks.length % CHUNKS_PER_PIECE === 0 || last) announce(Math.ceil(ownChunks.length / CHUNKS_PER_PIECE))
        } else for (const entry of out.values()) entry.queue.push(bytes)
        if (store) store.add('origin', bytes.buffer, last)
        poke()
        count(bytes.byteLength)
      }
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        let data = value
        while (data.byteLength > 0) {
          const take = Math.min(chunkBytes - fill, data.byteLength)
          chunk.set(data.subarray(0, take), fill)
          fill += take
          data = data.subarray(take)
          if (fill === chunkBytes) {
            emit(chunk, fromOrigin + fill === shareEnd - shareStart)
            chunk = new Uint8Array(chunkBytes)
            fill = 0
          }
        }
      }
      if (fill > 0) emit(chunk.slice(0, fill), true)
      originDone = true
      poke()
    }

    // One upload loop: round robin over the connections with room in their window, paced as a whole.
    const upload = (async () => {
      const burstMs = ((chunkBytes * 2) / paceBytesPerSec) * 1000
      let due = performance.now()
      let next = 0
      for (;;) {
        let pick = -1
        for (let k = 0; k < peers.length; k++) {
          const peer = peers[(next + k) % peers.length]
          const entry = out.get(peer)
          if (entry.queue.length > 0 && entry.sent - entry.acked < windowBytes) {
            pick = peer
            next = (next + k + 1) % peers.length
            break
          }
        }
        if (pick < 0) {
          const served = !pull || doneFrom.size === peers.length
          if (served && originDone && [...out.values()].every((entry) => entry.queue.length === 0)) return
          await new Promise((resolve) => (wake = resolve))
          continue
        }
        const now = performance.now()
        due = Math.max(due, now - burstMs)
        if (due - now > 4) await sleep(due - now)
        const entry = out.get(pick)
        const bytes = entry.queue.shift()
        channels.get(pick).send(bytes)
        entry.sent += bytes.byteLength
        due += (bytes.byteLength / paceBytesPerSec) * 1000
      }
    })()

    if (newcomer && index !== 0) {
      await Promise.all([fetchShare, upload])
      return { doneMs: null, fromOrigin, fromPeers }
    }
    await allHeld
    if (store) await store.settled()
    if (page && !(await page.done())) throw new Error('an asset was never whole')
    const doneMs = Date.now() - startAt
    if (pull) for (const peer of peers) channels.get(peer).send('d')
    await Promise.all([fetchShare, upload])
    return { doneMs, fromOrigin, fromPeers }
  }

  /** The whole blob, fetched before a newcomer-peers run (untimed). */
  let prefetched = null

  window.mesh = {
    async prefetch(url) {
      prefetched = new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer())
    },
    async offer(peer, stunUrl) {
      const pc = makeConnection(peer, stunUrl)
      await pc.setLocalDescription(await pc.createOffer())
      return gathered(pc)
    },
    async answer(peer, stunUrl, offer) {
      const pc = makeConnection(peer, stunUrl)
      await pc.setRemoteDescription(offer)
      await pc.setLocalDescription(await pc.createAnswer())
      return gathered(pc)
    },
    async accept(peer, answer) {
      await pcs.get(peer).setRemoteDescription(answer)
    },
    opened(peer) {
      const channel = channels.get(peer)
      if (channel.readyState === 'open') return
      return new Promise((resolve) => channel.addEventListener('open', () => resolve(), { once: true }))
    },
    run,
  }
})()
