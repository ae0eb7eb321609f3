#!/usr/bin/env node
// Test-only launcher for dynalite (a local DynamoDB emulator), used by ci/servers.sh.
//
// dynalite's own cli.js listens on every interface; this wrapper binds to the
// loopback address instead. Data is kept in memory (no --path), so every start
// is a fresh, empty "DynamoDB".
//
// Usage: node dynalite-server.js [--host 127.0.0.1] [--port 4567]
//                                [--pidfile FILE] [--createTableMs N] [--deleteTableMs N] [--updateTableMs N]
'use strict'

const opts = { host: '127.0.0.1', port: 4567 }
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(args[i])
  if (!m) {
    console.error('dynalite-server: unexpected argument ' + args[i])
    process.exit(2)
  }
  const value = m[2] !== undefined ? m[2] : args[++i]
  opts[m[1]] = /^\d+$/.test(value) ? Number(value) : value
}

const host = opts.host
const port = opts.port
const pidfile = opts.pidfile
delete opts.host
delete opts.port
delete opts.pidfile

const server = require('dynalite')(opts)
server.on('error', (err) => {
  console.error('dynalite-server: ' + err.message)
  process.exit(1)
})
server.listen(port, host, () => {
  const a = server.address()
  if (pidfile) require('fs').writeFileSync(pidfile, process.pid + '\n')
  console.log('dynalite listening at http://%s:%s (pid %d)', a.address, a.port, process.pid)
})

// Exit cleanly on the signals that ci/servers.sh (or a terminal) sends.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0))
}
