// Upload one file with tus-js-client, as a web or React Native app of another team would.
//
//   node upload.mjs '<json options>'
//
// Options: endpoint, token, file, sha256, filename, filetype, chunkSize (0: the whole
// rest in one PATCH), checksum ("sha256", "sha1" or none), withCreation (send the first
// chunk in the creation request), uploadUrl (resume this upload), stopAfter (abort once
// this many bytes are in; prints the URL to resume). Prints one line of JSON.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Upload } from 'tus-js-client'

const options = JSON.parse(process.argv[2])
const data = readFileSync(options.file)
const chunkSize = options.chunkSize > 0 ? options.chunkSize : Number.POSITIVE_INFINITY
let requests = 0

function chunkDigest(offset) {
  const end = Math.min(data.length, offset + (Number.isFinite(chunkSize) ? chunkSize : data.length))
  return createHash(options.checksum).update(data.subarray(offset, end)).digest('base64')
}

const upload = new Upload(data, {
  endpoint: options.endpoint,
  uploadUrl: options.uploadUrl || null,
  chunkSize,
  uploadDataDuringCreation: Boolean(options.withCreation),
  metadata: { sha256: options.sha256, filename: options.filename, filetype: options.filetype },
  headers: { Authorization: `Bearer ${options.token}` },
  // Village networks: try again at once, then a little later, many times.
  retryDelays: Array.from({ length: 200 }, (_, i) => Math.min(10 * i, 200)),
  storeFingerprintForResuming: false,
  onBeforeRequest(req) {
    requests += 1
    const method = req.getMethod()
    if (!options.checksum) return
    if (method === 'PATCH') {
      const offset = Number.parseInt(req.getHeader('Upload-Offset'), 10)
      req.setHeader('Upload-Checksum', `${options.checksum} ${chunkDigest(offset)}`)
    } else if (method === 'POST' && options.withCreation) {
      req.setHeader('Upload-Checksum', `${options.checksum} ${chunkDigest(0)}`)
    }
  },
  onProgress(sent) {
    if (options.stopAfter && sent >= options.stopAfter && upload.url) {
      upload.abort(false).then(() => {
        console.log(JSON.stringify({ ok: false, stopped: true, url: upload.url, requests }))
        process.exit(0)
      })
    }
  },
  onError(error) {
    const status = error.originalResponse ? error.originalResponse.getStatus() : null
    const body = error.originalResponse ? error.originalResponse.getBody() : null
    console.log(JSON.stringify({ ok: false, error: String(error.message), status, body, requests }))
    process.exit(0)
  },
  onSuccess() {
    console.log(JSON.stringify({ ok: true, url: upload.url, requests }))
    process.exit(0)
  },
})
upload.start()
