/**
 * Server-side session state for resumption: a bounded LRU cache for session ids (RFC 5246 section 7.4.1.2) and
 * RFC 5077 tickets sealed with AES-256-GCM under rotating keys.
 */
import * as crypto from 'node:crypto'
import { DEFAULT_SESSION_CACHE_SIZE, DEFAULT_SESSION_LIFETIME } from './limits'
import { ownCopy } from './wire'

export interface SessionState {
  master: Buffer
  suiteId: number
  version: number
  /** Whether the session's master secret was derived with RFC 7627 (resumption must match, section 5.3). */
  ems: boolean
  servername: string | null
  /** `now` when the full handshake finished. */
  created: number
}

export class SessionCache {
  private readonly map = new Map<string, SessionState>()
  constructor (readonly max = DEFAULT_SESSION_CACHE_SIZE, readonly lifetime = DEFAULT_SESSION_LIFETIME) {}
  get size (): number { return this.map.size }
  /** Keeps its own copy of `s.master` (wire.ts ownCopy): an entry holds its 48 bytes, not the buffer they came from. */
  set (id: Buffer, s: SessionState): void {
    const k = id.toString('hex')
    this.map.delete(k)
    this.map.set(k, { ...s, master: ownCopy(s.master) })
    // Map iteration order is insertion order: the first key is the least recently used.
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  get (id: Buffer, now: number): SessionState | null {
    const k = id.toString('hex')
    const s = this.map.get(k)
    if (s === undefined) return null
    this.map.delete(k)
    if (now - s.created > this.lifetime) return null
    this.map.set(k, s)
    return s
  }
}

interface TicketKey { name: Buffer, key: Buffer }
/**
 * Ticket key from caller material (any length >= 32 bytes): key_name and the AES key are derived with SHA-256 so
 * the same material in several processes yields the same tickets (RFC 5077 section 4 recommended layout, with
 * AES-GCM in place of AES-CBC + HMAC).
 */
const ticketKey = (material: Uint8Array): TicketKey => ({
  name: crypto.createHash('sha256').update('fastify-spdy ticket name').update(material).digest().subarray(0, 16),
  key: crypto.createHash('sha256').update('fastify-spdy ticket key').update(material).digest()
})

export class TicketKeys {
  private keys: TicketKey[] = []
  private rotatedAt = 0
  /** True when keys are generated here and rotated every `lifetime`; false when the caller supplies them. */
  private readonly auto: boolean
  constructor (material: Uint8Array | Uint8Array[] | undefined, readonly lifetime = DEFAULT_SESSION_LIFETIME, now = 0) {
    this.auto = material === undefined
    if (material === undefined) { this.keys = [ticketKey(crypto.randomBytes(32))]; this.rotatedAt = now } else this.set(material)
  }

  /** Replace the keys: the first one seals new tickets, all of them open tickets (so a rotation keeps old tickets). */
  set (material: Uint8Array | Uint8Array[]): void {
    const list = Array.isArray(material) ? material : [material]
    if (list.length === 0 || list.some((m) => m.length < 32)) throw new RangeError('ticketKeys: each key needs at least 32 bytes')
    this.keys = list.map(ticketKey)
  }

  private rotate (now: number): void {
    if (!this.auto || now - this.rotatedAt < this.lifetime) return
    // The previous key still opens tickets issued up to one lifetime ago.
    this.keys = [ticketKey(crypto.randomBytes(32)), this.keys[0]]
    this.rotatedAt = now
  }

  seal (s: SessionState, now: number): Buffer {
    this.rotate(now)
    const k = this.keys[0]
    const sni = Buffer.from(s.servername ?? '', 'utf8')
    const plain = Buffer.alloc(2 + 2 + 1 + 8 + 1 + s.master.length + 1 + sni.length)
    let o = plain.writeUInt16BE(s.version, 0)
    o = plain.writeUInt16BE(s.suiteId, o)
    o = plain.writeUInt8(s.ems ? 1 : 0, o)
    o = plain.writeDoubleBE(s.created, o)
    o = plain.writeUInt8(s.master.length, o)
    o += s.master.copy(plain, o)
    o = plain.writeUInt8(sni.length, o)
    sni.copy(plain, o)
    const iv = crypto.randomBytes(12)
    const c = crypto.createCipheriv('aes-256-gcm', k.key, iv)
    c.setAAD(k.name)
    const ct = Buffer.concat([c.update(plain), c.final()])
    return Buffer.concat([k.name, iv, ct, c.getAuthTag()])
  }

  /** Returns null for any ticket we cannot open (unknown key, tampered, expired): the server does a full handshake. */
  open (ticket: Buffer, now: number): SessionState | null {
    this.rotate(now)
    if (ticket.length < 16 + 12 + 16 + 14) return null
    const name = ticket.subarray(0, 16)
    const k = this.keys.find((x) => x.name.equals(name))
    if (k === undefined) return null
    try {
      const d = crypto.createDecipheriv('aes-256-gcm', k.key, ticket.subarray(16, 28))
      d.setAAD(k.name)
      d.setAuthTag(ticket.subarray(ticket.length - 16))
      const p = Buffer.concat([d.update(ticket.subarray(28, ticket.length - 16)), d.final()])
      let o = 0
      const version = p.readUInt16BE(o); o += 2
      const suiteId = p.readUInt16BE(o); o += 2
      const ems = p[o++] === 1
      const created = p.readDoubleBE(o); o += 8
      const ml = p[o++]
      const master = ownCopy(p.subarray(o, o + ml)); o += ml
      const sl = p[o++]
      const servername = sl === 0 ? null : p.subarray(o, o + sl).toString('utf8')
      if (now - created > this.lifetime) return null
      return { version, suiteId, ems, created, master, servername }
    } catch {
      return null
    }
  }
}
