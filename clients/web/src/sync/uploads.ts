// Photos up to the server over tus 1.0.0 (PROTOCOL.md, Photos), one at a time, with
// tus-js-client. The upload URL lives in the photo's own row (not in tus's fingerprint
// store), so a closed app resumes where the server stands; the offset is saved after
// every chunk; a photo is `done` only when the server has confirmed every byte.
import { type DetailedError, Upload } from 'tus-js-client'
import type { ApiClient } from '../api/client'
import { OfflineError, ProblemError, isOffline } from '../api/problems'
import type { BeatDB, PhotoRow } from './store'

export const CHUNK_BYTES = 256 * 1024
// The first retry at once (a moved offset, a photo the server already had), then a little
// later; the engine's next sync goes on from the saved URL anyway.
export const RETRY_DELAYS = [0, 1_000, 3_000, 10_000]
// Failures in a row that make an upload start over with a new URL (a 410 or 404 on PATCH:
// the upload expired or was discarded).
const MAX_RESTARTS = 2

export interface UploadSummary {
  uploaded: number
  rejected: number
}

type Outcome = 'done' | 'rejected' | 'restart'

// tus reads the photo through this: a Blob (browser, and Node 20 in tests) sliced per chunk.
const blobReader = {
  async openFile(input: Blob) {
    return {
      size: input.size,
      async slice(start: number, end: number) {
        return { value: input.slice(start, Math.min(end, input.size)), done: end >= input.size }
      },
      close() {},
    }
  },
}

function statusOf(error: unknown): number {
  return (error as Partial<DetailedError>)?.originalResponse?.getStatus() ?? 0
}

function codeOf(error: unknown, status: number): string {
  try {
    const body: unknown = JSON.parse(
      (error as Partial<DetailedError>)?.originalResponse?.getBody() ?? '',
    )
    const code = (body as { code?: unknown })?.code
    if (typeof code === 'string' && code) return code
  } catch {
    // not a problem document
  }
  return `http_${status}`
}

export async function uploadPhotos(db: BeatDB, api: ApiClient): Promise<UploadSummary> {
  const summary: UploadSummary = { uploaded: 0, rejected: 0 }
  const queued = await db.photos.where('state').equals('pending').sortBy('added_at')
  for (const photo of queued) {
    const outcome = await uploadPhoto(db, api, photo)
    if (outcome === 'done') summary.uploaded++
    else summary.rejected++
  }
  return summary
}

export async function uploadPhoto(
  db: BeatDB,
  api: ApiClient,
  photo: PhotoRow,
): Promise<'done' | 'rejected'> {
  let uploadUrl = photo.upload_url
  for (let restarts = 0; ; restarts++) {
    const outcome = await runUpload(db, api, { ...photo, upload_url: uploadUrl })
    if (outcome !== 'restart') return outcome
    uploadUrl = null
    await db.photos.update(photo.sha256, { upload_url: null, offset: 0 })
    if (restarts >= MAX_RESTARTS) throw new OfflineError(`photo ${photo.sha256}: upload lost`)
  }
}

function runUpload(db: BeatDB, api: ApiClient, photo: PhotoRow): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    const upload: Upload = new Upload(photo.blob, {
      endpoint: api.uploadsEndpoint,
      uploadUrl: photo.upload_url,
      uploadSize: photo.size,
      metadata: { sha256: photo.sha256, filename: photo.filename, filetype: photo.filetype },
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS,
      // The photo row is the one record of where an upload stands.
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: false,
      httpStack: api.httpStack(),
      fileReader: blobReader,
      onUploadUrlAvailable() {
        void db.photos.update(photo.sha256, { upload_url: upload.url })
      },
      onChunkComplete(_size: number, accepted: number) {
        void db.photos.update(photo.sha256, { offset: accepted })
      },
      // A photo the server holds already completes at creation (Upload-Offset equals the
      // length); tus-js-client would still PATCH from 0 and learn it from a 409.
      async onAfterResponse(request, response) {
        if (request.getMethod() !== 'POST' || response.getStatus() !== 201) return
        if (Number(response.getHeader('Upload-Offset')) !== photo.size) return
        await upload.abort(false)
        await db.photos.update(photo.sha256, {
          state: 'done',
          offset: photo.size,
          code: null,
          upload_url: upload.url,
        })
        resolve('done')
      },
      onShouldRetry(error: DetailedError) {
        const status = statusOf(error)
        // 409: the offset moved; 423: the server still writes a cut-off PATCH; 460: a chunk
        // damaged on the way. tus asks where the upload stands, then goes on.
        if (status === 409 || status === 423 || status === 460) return true
        if (status === 0 || status === 408 || status === 429 || status >= 500) return !isOffline()
        return false
      },
      onSuccess() {
        db.photos
          .update(photo.sha256, { state: 'done', offset: photo.size, code: null })
          .then(() => resolve('done'), reject)
      },
      onError(error: Error | DetailedError) {
        void settle(db, api, photo, error).then(resolve, reject)
      },
    })
    upload.start()
  })
}

async function settle(db: BeatDB, api: ApiClient, photo: PhotoRow, error: unknown) {
  const status = statusOf(error)
  if (status === 404 || status === 410) return 'restart' as const
  if (status === 413 || status === 415 || status === 422) {
    await db.photos.update(photo.sha256, { state: 'rejected', code: codeOf(error, status) })
    return 'rejected' as const
  }
  if (status === 0) {
    const cause = (error as Partial<DetailedError>)?.causingError
    if (cause instanceof ProblemError) throw cause
    throw new OfflineError(`photo ${photo.sha256}: ${String((error as Error)?.message)}`)
  }
  // A wipe, a lost session, a refusal for now: as any other request's answer.
  const body = (error as Partial<DetailedError>)?.originalResponse?.getBody() ?? ''
  return api.failWith(status, body)
}
