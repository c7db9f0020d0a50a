// The owner dashboard: origin bytes vs visitor bytes (offload ratio), swarms and peers, over time.
(() => {
  const $ = (id) => document.getElementById(id)
  const series = []
  let assetNames = {}

  function formatBytes(n) {
    if (n < 1024) return `${n} B`
    const units = ['KiB', 'MiB', 'GiB']
    let v = n / 1024, u = 0
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`
  }
  const getJson = (path) => fetch(path, { cache: 'no-store' }).then((r) => (r.ok ? r.json() : null)).catch(() => null)

  async function loadAssetNames() {
    const envelope = await getJson('/swarmcdn/manifest.json')
    if (!envelope) return
    for (const asset of JSON.parse(envelope.manifest).assets) assetNames[asset.infoHash] = asset.path
  }

  function drawChart() {
    const canvas = $('owner-chart')
    const ctx = canvas.getContext('2d')
    ctx.clearRect(0, 0, canvas.width, canvas.height)
    const max = Math.max(1, ...series.map((p) => Math.max(p.origin, p.peers)))
    const step = canvas.width / Math.max(1, series.length - 1)
    for (const [key, color] of [['origin', '#2f6fde'], ['peers', '#3ddc84']]) {
      ctx.strokeStyle = color
      ctx.lineWidth = 3
      ctx.beginPath()
      series.forEach((p, i) => {
        const x = i * step
        const y = canvas.height - 10 - (p[key] / max) * (canvas.height - 20)
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)
      })
      ctx.stroke()
    }
  }

  async function tick() {
    const [origin, tracker, visitors] = await Promise.all([
      getJson('/__swarmcdn/origin-stats'),
      getJson('/__swarmcdn/tracker-stats'),
      getJson('/__swarmcdn/visitor-reports'),
    ])
    const assetPaths = new Set(Object.values(assetNames))
    const originAssetBytes = origin ? Object.entries(origin.paths).filter(([p]) => assetPaths.has(p)).reduce((s, [, v]) => s + v.bytes, 0) : 0
    const peers = visitors ? visitors.totals.peers : 0
    const http = visitors ? visitors.totals.http : 0
    const store = visitors ? visitors.totals.store : 0
    // Offload: of the asset bytes that reached visitors over the network, the share peers carried. The
    // origin's side is its own byte counter (it includes first-page loads the service worker never saw).
    const ratio = peers + originAssetBytes > 0 ? peers / (peers + originAssetBytes) : 0
    $('offload-ratio').textContent = `${(ratio * 100).toFixed(1)}%`
    $('offload-ratio').dataset.ratio = String(ratio)
    $('origin-bytes').textContent = formatBytes(originAssetBytes)
    $('visitor-bytes').textContent = formatBytes(peers + http + store)
    $('visitor-split').textContent = `${formatBytes(peers)} from peers · ${formatBytes(http)} from origin · ${formatBytes(store)} from local stores · ${visitors ? visitors.visitors : 0} visitors`
    $('swarm-count').textContent = tracker ? `${tracker.swarms} / ${tracker.peers}` : 'no tracker'
    const tbody = $('swarm-table').querySelector('tbody')
    tbody.innerHTML = ''
    for (const t of tracker ? tracker.torrents : []) {
      const row = document.createElement('tr')
      for (const cell of [assetNames[t.infoHash] || t.infoHash.slice(0, 12), t.seeders, t.leechers, t.peers]) {
        const td = document.createElement('td')
        td.textContent = String(cell)
        row.appendChild(td)
      }
      tbody.appendChild(row)
    }
    series.push({ origin: originAssetBytes, peers })
    if (series.length > 300) series.shift()
    drawChart()
  }

  loadAssetNames().then(tick)
  setInterval(tick, 2000)
})()
