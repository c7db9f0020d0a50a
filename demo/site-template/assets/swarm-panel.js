// The visitor panel on every demo page: this visitor's bytes by source, peers, and a small chart.
// Reads window.swarmcdn (from /swarmcdn.js) and reports totals to the demo origin for the owner dashboard.
(() => {
  const history = []
  const visitorId = sessionStorage.getItem('demo:visitor') || Math.random().toString(36).slice(2)
  sessionStorage.setItem('demo:visitor', visitorId)

  const panel = document.createElement('aside')
  panel.id = 'swarm-panel'
  if (localStorage.getItem('demo:panel-collapsed') === '1') panel.classList.add('collapsed')
  panel.innerHTML = `
    <header><span><span class="peers-dot"></span>swarmcdn · <span data-k="status">starting</span></span><button aria-label="collapse">▾</button></header>
    <div class="body">
      <dl>
        <dt>from peers</dt><dd data-k="peers-bytes">0 B</dd>
        <dt>from origin</dt><dd data-k="http-bytes">0 B</dd>
        <dt>from local store</dt><dd data-k="store-bytes">0 B</dd>
        <dt>peers connected</dt><dd data-k="peers">0</dd>
        <dt>uploaded to others</dt><dd data-k="uploaded">0 B</dd>
      </dl>
      <canvas width="512" height="120" aria-label="bytes over time"></canvas>
      <div class="legend"><i style="background:#3ddc84"></i>peers<i style="background:#7fb0ff"></i>origin<i style="background:#c9a7ff"></i>store</div>
    </div>`
  panel.querySelector('header').addEventListener('click', () => {
    panel.classList.toggle('collapsed')
    localStorage.setItem('demo:panel-collapsed', panel.classList.contains('collapsed') ? '1' : '0')
  })
  document.body.appendChild(panel)
  const set = (key, text) => { panel.querySelector(`[data-k="${key}"]`).textContent = text }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`
    const units = ['KiB', 'MiB', 'GiB']
    let v = n / 1024, u = 0
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`
  }

  function draw() {
    const canvas = panel.querySelector('canvas')
    const ctx = canvas.getContext('2d')
    ctx.clearRect(0, 0, canvas.width, canvas.height)
    const max = Math.max(1, ...history.map((h) => h.peers + h.http + h.store))
    const w = canvas.width / 60
    history.slice(-60).forEach((h, i) => {
      let y = canvas.height
      for (const [key, color] of [['peers', '#3ddc84'], ['http', '#7fb0ff'], ['store', '#c9a7ff']]) {
        const bar = (h[key] / max) * (canvas.height - 4)
        ctx.fillStyle = color
        ctx.fillRect(i * w, y - bar, w - 1, bar)
        y -= bar
      }
    })
  }

  let lastReport = ''
  async function tick() {
    const api = window.swarmcdn
    if (!api) return
    try {
      const s = await api.stats()
      set('status', s.p2p === false ? 'P2P off' : 'on')
      set('peers-bytes', formatBytes(s.bytes.peers))
      set('http-bytes', formatBytes(s.bytes.http))
      set('store-bytes', formatBytes(s.bytes.store))
      set('peers', String(s.peers))
      set('uploaded', formatBytes(s.uploadedBytes || 0))
      history.push({ peers: s.bytes.peers, http: s.bytes.http, store: s.bytes.store })
      if (history.length > 120) history.shift()
      draw()
      const report = JSON.stringify({ visitorId, bytes: s.bytes, peers: s.peers, uploadedBytes: s.uploadedBytes || 0 })
      if (report !== lastReport) {
        lastReport = report
        fetch('/__swarmcdn/visitor-report', { method: 'POST', headers: { 'content-type': 'application/json' }, body: report, keepalive: true }).catch(() => {})
      }
    } catch {
      set('status', 'unavailable')
    }
  }
  setInterval(tick, 1000)
  tick()
})()
