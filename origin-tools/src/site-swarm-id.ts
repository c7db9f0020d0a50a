// The site swarm id: what every visitor of a site and its seeder announce at the tracker (one swarm for
// all assets). Derived from the site's public key and scope, so it is the same across deploys and
// differs between two sites (or two scopes of one origin) that share a tracker.

import { createHash } from 'node:crypto'

export function siteSwarmId(publicKeyBase64: string, scope: string): string {
  return createHash('sha1').update(`swarmcdn-site-swarm\0${publicKeyBase64}\0${scope}`).digest('hex')
}
