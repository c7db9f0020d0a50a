// webtorrent 3 imports { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate } from 'webrtc-polyfill'.
import wrtc from '@roamhq/wrtc'

export const { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate } = wrtc
export default wrtc
