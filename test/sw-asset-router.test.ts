import { test } from 'node:test'
import assert from 'node:assert/strict'
import { couldBeAsset, routeRequest } from '../sw/asset-router.ts'
import { ORIGIN, makeAsset, makeBytes, makeManifest } from './sw-fixtures.ts'

const video = makeAsset(makeBytes(40_000), { path: '/media/video.mp4' })
const tilde = makeAsset(makeBytes(40_000, 2), { path: '/img/%7Euser%20photo.jpg', type: 'image/jpeg' })
const manifest = makeManifest({ assets: [video, tilde] })

test('GET and HEAD of a manifest path on the same origin are routed', () => {
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/video.mp4`), ORIGIN)?.asset, video)
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/video.mp4`, { method: 'HEAD' }), ORIGIN)?.method, 'HEAD')
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/video.mp4?v=3`), ORIGIN)?.asset, video)
})

test('paths compare decoded', () => {
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/img/~user photo.jpg`), ORIGIN)?.asset, tilde)
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/img/%7euser%20photo.jpg`), ORIGIN)?.asset, tilde)
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/video%2Emp4`), ORIGIN)?.asset, video)
})

test('everything else is not routed', () => {
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/video.mp4`, { method: 'POST', body: 'x' }), ORIGIN), null)
  assert.equal(routeRequest(manifest, new Request('https://other.example/media/video.mp4'), ORIGIN), null)
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/video.mp5`), ORIGIN), null)
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/media/`), ORIGIN), null)
  assert.equal(routeRequest(manifest, new Request(`${ORIGIN}/%E0%A4%A`), ORIGIN), null) // malformed escape
  assert.equal(routeRequest(null, new Request(`${ORIGIN}/media/video.mp4`), ORIGIN), null)
  assert.equal(routeRequest(manifest, { method: 'GET', url: `${ORIGIN}/media/video.mp4`, cache: 'only-if-cached', mode: 'no-cors' }, ORIGIN), null)
  assert.ok(routeRequest(manifest, { method: 'GET', url: `${ORIGIN}/media/video.mp4`, cache: 'only-if-cached', mode: 'same-origin' }, ORIGIN), 'routeRequest(manifest, { method: \'GET\', url: `${ORIGIN}/media/video.mp4`, cache: \'only-if-cached\', mode: \'same-origin\' }, ORIGIN)')
})

test('before the manifest is restored, only same-origin sub-resource GET/HEAD are held', () => {
  assert.equal(couldBeAsset({ method: 'GET', url: `${ORIGIN}/x.jpg`, mode: 'no-cors' }, ORIGIN), true)
  assert.equal(couldBeAsset({ method: 'GET', url: `${ORIGIN}/`, mode: 'navigate' }, ORIGIN), false)
  assert.equal(couldBeAsset({ method: 'POST', url: `${ORIGIN}/x.jpg` }, ORIGIN), false)
  assert.equal(couldBeAsset({ method: 'GET', url: 'https://cdn.example/x.jpg' }, ORIGIN), false)
})
