// The tracker limits an operator tunes, as CLI flags shared by `swarmcdn tracker` and `swarmcdn serve`.

import { Option } from 'commander'
import { parseByteSize, parsePositiveInteger, parsePositiveNumber } from '../option-parsers.ts'
import { TRACKER_DEFAULTS, type TrackerConfig } from './swarm-tracker.ts'

type Tunable = Exclude<keyof TrackerConfig, 'admission' | 'now' | 'trustProxy'>

const FLAGS: Array<{ flag: string; key: Tunable; help: string; parse: (text: string) => number }> = [
  { flag: '--max-offers <n>', key: 'maxOffersPerAnnounce', help: 'WebRTC offers relayed per announce', parse: parsePositiveInteger },
  { flag: '--max-message-bytes <bytes>', key: 'maxMessageBytes', help: 'largest WebSocket message; bigger closes the connection', parse: parseByteSize },
  { flag: '--messages-per-sec-per-address <n>', key: 'messagesPerSecPerAddress', help: 'sustained tracker messages per second from one address (raise for large NATs)', parse: parsePositiveNumber },
  { flag: '--burst-messages-per-address <n>', key: 'burstMessagesPerAddress', help: 'tracker messages one address may send in a burst', parse: parsePositiveInteger },
  { flag: '--offers-per-sec-per-address <n>', key: 'offersPerSecPerAddress', help: 'sustained WebRTC offers relayed per second from one address', parse: parsePositiveNumber },
  { flag: '--burst-offers-per-address <n>', key: 'burstOffersPerAddress', help: 'WebRTC offers one address may have relayed in a burst', parse: parsePositiveInteger },
  { flag: '--max-connections-per-address <n>', key: 'maxConnectionsPerAddress', help: 'open tracker WebSockets per address', parse: parsePositiveInteger },
  { flag: '--max-peers-per-address <n>', key: 'maxPeerIdsPerAddress', help: 'peer ids announced from one address', parse: parsePositiveInteger },
  { flag: '--max-swarms <n>', key: 'maxSwarms', help: 'swarms held at once', parse: parsePositiveInteger },
]

/** Commander options for the tunable limits, with their defaults in the help. */
export function trackerLimitOptions(): Option[] {
  const options = FLAGS.map(({ flag, key, help, parse }) => new Option(flag, `${help} (default ${TRACKER_DEFAULTS[key]})`).argParser(parse))
  options.push(new Option('--trust-proxy', 'take the client address from X-Forwarded-For (only behind your own reverse proxy)'))
  return options
}

/** The limits given on the command line (commander's camel-cased option values), as tracker config. */
export function trackerLimitsFrom(opts: Record<string, unknown>): Partial<TrackerConfig> {
  const limits: Partial<TrackerConfig> = {}
  for (const { flag, key } of FLAGS) {
    const name = flag.slice(2, flag.indexOf(' ')).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
    if (typeof opts[name] === 'number') (limits as Record<string, number>)[key] = opts[name] as number
  }
  if (opts.trustProxy === true) limits.trustProxy = true
  return limits
}
