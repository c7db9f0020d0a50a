// A bare origin for `npm run bench:ceiling`: serves one folder with Range support (the `send` package)
// and no caching, and counts the body bytes it sent, so the probe can report the origin's copies.
// Usage: blob-origin.ts <folder> <host> <port>; prints "blob-origin: open" when listening and
// "blob-origin: sent <bytes>" on every GET /sent.

import { createServer } from 'node:http'
import send from 'send'

const [root, host, port] = process.argv.slice(2)
if (!root || !host || !port) {
  console.error('usage: blob-origin.ts <folder> <host> <port>')
  process.exit(2)
}

let sentBytes = 0
const server = createServer((req, res) => {
  if (req.url === '/sent') {
    res.setHeader('Access-Control-Allow-Origin', '*')
    res.end(String(sentBytes))
    return
  }
  const before = req.socket.bytesWritten
  res.on('finish', () => (sentBytes += req.socket.bytesWritten - before))
  send(req, new URL(req.url ?? '/', 'http://origin').pathname, { root, cacheControl: false, etag: false, lastModified: false })
    .on('headers', (response) => response.setHeader('Cache-Control', 'no-store'))
    .pipe(res)
})
server.listen(Number(port), host, () => console.log('blob-origin: open'))
