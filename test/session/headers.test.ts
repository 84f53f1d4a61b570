/**
 * requestHead (lib/session/headers.ts): what a SYN_STREAM's header list must be to become a request, one rule per
 * case. Every refusal is a string (the server answers RST_STREAM PROTOCOL_ERROR with it; test/server/
 * dispatch-heads.test.ts checks that over a socket, and that Node's HTTP/1.1 parser answers 400 where the case
 * maps onto HTTP/1.1).
 */
import t, { type Test } from 'tap'
import { pushRequestHead, requestHead, validAuthority, type RequestHead } from '../../lib/session/headers'
import type { HeaderList, SpdyVersion } from '../../lib/codec/types'

const v3 = (extra: HeaderList = [], over: Record<string, string | null> = {}): HeaderList => {
  const base: Record<string, string | null> = { ':method': 'GET', ':path': '/p?q=1', ':version': 'HTTP/1.1', ':host': 'example.com:8443', ':scheme': 'https', ...over }
  const list: HeaderList = []
  for (const k in base) { const v = base[k]; if (v !== null) list.push([k, v]) }
  return list.concat(extra)
}
const v2 = (extra: HeaderList = [], over: Record<string, string | null> = {}): HeaderList => {
  const base: Record<string, string | null> = { method: 'GET', url: '/p?q=1', version: 'HTTP/1.1', host: 'example.com:8443', scheme: 'https', ...over }
  const list: HeaderList = []
  for (const k in base) { const v = base[k]; if (v !== null) list.push([k, v]) }
  return list.concat(extra)
}

const ok = (t: Test, version: SpdyVersion, list: HeaderList): RequestHead => {
  const h = requestHead(version, list)
  if (typeof h === 'string') { t.fail(`refused: ${h}`); throw new Error(h) }
  return h
}

t.test('a well-formed head, both versions: fields, Node-style headers, host is the authority', async (t) => {
  for (const [version, list] of [[3.1, v3([['accept', 'a'], ['cookie', 'a=1\0b=2'], ['set-cookie', 'x\0y'], ['x-list', 'a\0b']])], [2, v2([['accept', 'a'], ['cookie', 'a=1\0b=2'], ['set-cookie', 'x\0y'], ['x-list', 'a\0b']])]] as const) {
    const h = ok(t, version, list)
    t.same(h, {
      method: 'GET', path: '/p?q=1', authority: 'example.com:8443', scheme: 'https', httpVersion: 'HTTP/1.1',
      headers: { accept: 'a', cookie: 'a=1; b=2', 'set-cookie': ['x', 'y'], 'x-list': 'a, b', host: 'example.com:8443' }
    }, `SPDY/${version}`)
  }
  t.equal(ok(t, 3, v3([['host', 'example.com:8443']])).headers.host, 'example.com:8443', 'a host header equal to :host is fine')
  t.equal(ok(t, 3, v3([['host', 'h.example']], { ':host': null })).authority, 'h.example', 'no :host: the host header is the authority')
  t.equal(ok(t, 3, v3([], { ':method': 'OPTIONS', ':path': '*' })).path, '*', '* for OPTIONS')
  t.equal(ok(t, 3, v3([], { ':version': 'HTTP/1.0' })).httpVersion, 'HTTP/1.0')
  t.equal(ok(t, 3, v3([['content-length', '0']])).headers['content-length'], '0')
  t.equal(ok(t, 3, v3([['x', 'tab\there, obs-text \u00e9']])).headers.x, 'tab\there, obs-text \u00e9', 'HTAB and obs-text are field-value')
  t.equal(ok(t, 3, v3([], { ':scheme': null })).scheme, 'https', 'scheme defaults to https')
  t.equal(ok(t, 3, v3([], { ':host': '[::1]:8443' })).authority, '[::1]:8443', 'IPv6 literal')
})

t.test('SPDY/2 url: absolute (draft 2) split into path and authority, by hand', async (t) => {
  let h = ok(t, 2, v2([], { url: 'http://example.test:81/a/../b?c=1', host: null, scheme: null }))
  t.same([h.path, h.authority, h.scheme, h.headers.host], ['/a/../b?c=1', 'example.test:81', 'http', 'example.test:81'], 'path kept as sent (no URL normalisation)')
  h = ok(t, 2, v2([], { url: 'https://example.test', host: null }))
  t.equal(h.path, '/', 'no path: /')
  h = ok(t, 2, v2([], { url: 'https://example.test?x', host: null }))
  t.equal(h.path, '/?x')
  h = ok(t, 2, v2([], { url: 'https://example.com:8443/z' }))
  t.equal(h.authority, 'example.com:8443', 'host header equal to the url authority')
  for (const url of ['http://[bad/', 'http://[bad]/', 'http://a b/', 'http://user@host/', 'http:///x', 'http://h/#frag', 'mailto:x', 'x/y', '']) {
    t.type(requestHead(2, v2([], { url, host: null })), 'string', `url ${JSON.stringify(url)} refused`)
  }
  t.match(requestHead(2, v2([], { url: 'http://other.test/x' })), /disagrees/, 'url authority vs host header')
})

t.test('names: lowercase RFC 9110 tokens; unknown pseudo-headers refused', async (t) => {
  for (const name of ['a b', 'a:b', 'a\r\nb', 'a\nb', 'a\u00e9', 'a"b', 'a(b', 'a/b', 'a@b', 'a\tb', 'Upper', 'X-A', ':status', ':foo', 'method']) {
    const list = name === 'method' ? v3([[name, 'GET']]) : v3([[name, 'v']])
    const h = requestHead(3, list)
    if (name === 'method') { t.type(h, 'object', 'v2 pseudo name is a plain header in v3'); continue }
    t.type(h, 'string', `name ${JSON.stringify(name)} refused`)
    if (typeof h === 'string') t.notMatch(h, /[\r\n]/, 'the reason never echoes a bad name')
  }
  t.type(requestHead(3, v3([['', 'v']])), 'string', 'empty name')
  t.type(requestHead(2, v2([[':host', 'x']])), 'string', 'pseudo-headers are not names in SPDY/2')
})

t.test('values: no CR, LF, NUL (except as separator), other controls or DEL', async (t) => {
  for (const value of ['a\r\nSet-Cookie: pwned=1', 'a\rb', 'a\nb', 'a\u0001b', 'a\u007fb', '\0a', 'a\0', 'a\0\0b', '\0']) {
    t.type(requestHead(3, v3([['x', value]])), 'string', `value ${JSON.stringify(value)} refused`)
  }
  for (const [name, value] of [[':path', '/a\r\nb'], [':host', 'h\r\nx: y'], [':method', 'GET\r\n'], [':version', 'HTTP/1.1\n'], [':scheme', 'https\0http']]) {
    t.type(requestHead(3, v3([], { [name]: value })), 'string', `${name} ${JSON.stringify(value)} refused`)
  }
})

t.test(':method, :version, :scheme', async (t) => {
  t.type(requestHead(3, v3([], { ':method': 'GE T' })), 'string', 'method with a space')
  t.type(requestHead(3, v3([], { ':method': 'G/T' })), 'string', 'method with a separator')
  t.equal(ok(t, 3, v3([], { ':method': 'PURGE' })).method, 'PURGE', 'any token method reaches the app (its router answers)')
  for (const ver of ['HTTP/1.2', 'HTTP/2', 'http/1.1', 'SPDY/3']) t.type(requestHead(3, v3([], { ':version': ver })), 'string', `version ${ver}`)
  for (const s of ['ftp', 'javascript', 'HTTPS']) t.type(requestHead(3, v3([], { ':scheme': s })), 'string', `scheme ${s}`)
})

t.test(':path: origin-form, or * for OPTIONS only; absolute URLs refused in SPDY/3', async (t) => {
  for (const path of ['http://evil.example/x', 'https://evil.example', 'x', '*', '/a b', '/a\u00e9', '/a\u007f', '?q']) {
    t.type(requestHead(3, v3([], { ':path': path })), 'string', `:path ${JSON.stringify(path)} refused`)
  }
  t.equal(ok(t, 3, v3([], { ':path': '//x' })).path, '//x', 'an empty first segment is still origin-form (as Node)')
  t.type(requestHead(3, v3([], { ':method': 'GET', ':path': '*' })), 'string', '* with GET')
})

t.test('host: required, well formed, and a host header must agree with :host', async (t) => {
  t.match(requestHead(3, v3([], { ':host': null })), /lacks a host/, 'no :host, no host')
  t.match(requestHead(2, v2([], { host: null })), /lacks a host/, 'SPDY/2 without host')
  t.match(requestHead(3, v3([], { ':host': '' })), /lacks a host/, 'empty :host')
  t.match(requestHead(3, v3([['host', 'evil.example']])), /disagrees/, 'host vs :host')
  for (const a of ['a/b', 'a@b', 'a:b:c', 'a:8x', 'a b', '[::1', '[zz]', ':80', 'a?b', 'a#b', 'a\\b', 'h\u00e9']) {
    t.notOk(validAuthority(a), `authority ${JSON.stringify(a)} refused`)
    t.type(requestHead(3, v3([], { ':host': a })), 'string', `:host ${JSON.stringify(a)} refused`)
  }
  for (const a of ['a', 'a:', 'a:8443', 'xn--nxasmq6b.example', '127.0.0.1:1', '[::1]', '[::ffff:1.2.3.4]:80', 'a_b.c-d~e%41']) t.ok(validAuthority(a), `authority ${a}`)
})

t.test('content-length: one decimal number', async (t) => {
  for (const cl of ['+5', '-1', '0x5', '5 ', ' 5', '5, 5', '5\u00005', '5\u00006', '', '1e3', '5.0', '1234567890123456']) {
    t.type(requestHead(3, v3([['content-length', cl]])), 'string', `content-length ${JSON.stringify(cl)} refused`)
  }
  t.equal(ok(t, 3, v3([['content-length', '123456789012345']])).headers['content-length'], '123456789012345', '15 digits')
})

t.test('connection-specific headers are refused on a request (SPDY/3 section 3.2.1)', async (t) => {
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) {
    t.match(requestHead(3, v3([[name, name === 'transfer-encoding' ? 'chunked' : 'x']])), /connection-specific/, `${name} (SPDY/3)`)
    t.match(requestHead(2, v2([[name, 'x']])), /connection-specific/, `${name} (SPDY/2)`)
  }
})

t.test('what is missing is named', async (t) => {
  t.equal(requestHead(3, v3([], { ':method': null })), 'request lacks :method')
  t.equal(requestHead(3, v3([], { ':path': null, ':version': null })), 'request lacks :path, :version')
  t.equal(requestHead(2, v2([], { url: null })), 'request lacks url')
})

t.test('pushRequestHead: a GET the client could have sent, with the page authority as host', async (t) => {
  const parent = ok(t, 3, v3([['cookie', 'a=1'], ['user-agent', 'UA'], ['accept', 'text/html'], ['authorization', 'Basic x']]))
  t.same(pushRequestHead(parent, '/style.css?v=1', 'http'), {
    method: 'GET', path: '/style.css?v=1', authority: 'example.com:8443', scheme: 'http', httpVersion: 'HTTP/1.1',
    headers: { host: 'example.com:8443', 'user-agent': 'UA', cookie: 'a=1', authorization: 'Basic x' }
  }, 'inherits user-agent, cookie, authorization; not accept')
  for (const path of ['style.css', 'http://evil.example/x', '/a b', '/a\r\nx: y', '*', '']) t.equal(pushRequestHead(parent, path, 'https'), null, `push path ${JSON.stringify(path)} refused`)
})
