// Ed25519 keys: PKCS#8 PEM private keys on disk, raw 32-byte public keys as base64 for humans and the SW.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { readFileSync, existsSync } from 'node:fs'
import { CliError } from './cli-error.ts'

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function generateKeyPair(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey }
}

export function rawPublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return der.subarray(ED25519_SPKI_PREFIX.length)
}

export function publicKeyBase64(publicKey: KeyObject): string {
  return rawPublicKey(publicKey).toString('base64')
}

export function loadPrivateKey(file: string): KeyObject {
  let pem: string
  try {
    pem = readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new CliError('key-not-found', `key file not found: ${file} (create one with: swarmcdn keygen --out ${file})`)
    throw new CliError('key-invalid', `cannot read key file ${file}: ${(error as Error).message}`)
  }
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    throw new CliError('key-invalid', `${file} is not a PEM private key (create one with: swarmcdn keygen --out <file>)`)
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CliError('key-invalid', `${file} is a ${key.asymmetricKeyType} key; swarmcdn needs Ed25519 (swarmcdn keygen makes one)`)
  }
  return key
}

function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

/** Accepts a public key as base64 / base64url / hex text, or a file holding that or a PEM (public or private). */
export function loadPublicKey(arg: string): KeyObject {
  const fromText = parseRawPublicKeyText(arg.trim())
  if (fromText) return fromText
  if (!existsSync(arg)) {
    throw new CliError('key-not-found', `--pub must be a public key (base64, as printed by keygen) or a file holding one; ${arg} is neither`)
  }
  const text = readFileSync(arg, 'utf8').trim()
  const raw = parseRawPublicKeyText(text)
  if (raw) return raw
  try {
    const key = createPublicKey(text)
    if (key.asymmetricKeyType !== 'ed25519') throw new CliError('key-invalid', `${arg} holds a ${key.asymmetricKeyType} key; swarmcdn needs Ed25519`)
    return key
  } catch (error) {
    if (error instanceof CliError) throw error
    throw new CliError('key-invalid', `${arg} does not hold an Ed25519 public key`)
  }
}

function parseRawPublicKeyText(text: string): KeyObject | null {
  let raw: Buffer | null = null
  if (/^[0-9a-fA-F]{64}$/.test(text)) raw = Buffer.from(text, 'hex')
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) raw = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (!raw || raw.length !== 32) return null
  try {
    return publicKeyFromRaw(raw)
  } catch {
    return null
  }
}

export function signBytes(privateKey: KeyObject, message: Uint8Array): Buffer {
  return sign(null, message, privateKey)
}

export function verifyBytes(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, message, publicKey, signature)
  } catch {
    return false
  }
}
