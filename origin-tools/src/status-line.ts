// A live status line: rewritten in place on a terminal, an occasional plain line otherwise.

export function startStatusLine(render: () => string, stream: NodeJS.WriteStream = process.stderr): () => void {
  let last = ''
  const tty = stream.isTTY
  const timer = setInterval(() => {
    const line = render()
    if (tty) stream.write(`\r\x1b[2K${line}`)
    else if (line !== last) stream.write(`${line}\n`)
    last = line
  }, tty ? 1000 : 30_000)
  timer.unref()
  return () => {
    clearInterval(timer)
    if (tty) stream.write('\n')
  }
}
