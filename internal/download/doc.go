// Package download fetches large files over HTTP(S) into a local cache, safely: the one downloader
// shared by the weights and data packages.
//
// What a Fetch guarantees:
//
//   - Resumable: bytes go to a partial file (Request.PartialPath, default "<dest>.partial") and an
//     interrupted transfer continues with an HTTP Range request, within the same call (retries with
//     exponential backoff on connection drops, stalls, 408/429/5xx) or on a later call.
//   - Verified: the file is checked against Request.Expect (size, SHA-256, MD5, git blob SHA-1) or,
//     when nothing is expected, against the size the server announced. Only a verified file is renamed
//     (atomically) to its destination, so a destination path never holds a partial or corrupt file
//     written by us.
//   - Cached files are re-checked: a cached file whose hash no longer matches is reported, never
//     returned, and fetched again. To avoid re-hashing gigabytes on every call, a successful check
//     leaves a small stamp (size, modification time, digests) in Client.StampDir; a file whose size or
//     modification time changed is hashed again. Client.Verify always re-hashes.
//   - Concurrency safe: a lock file (Request.LockPath, default "<dest>.lock", flock(2) through
//     github.com/gofrs/flock) serialises downloads of the same destination across goroutines and
//     processes; the loser of the race finds the verified file and returns it. Lock files stay in
//     place afterwards (as huggingface_hub's do): removing one safely would need another lock.
//   - Clear errors: 401/403 (with Request.AuthHint, e.g. "set HF_TOKEN"), 404 naming the URL, checksum
//     mismatches naming the file and both digests, and, offline, which file is missing and where it was
//     expected.
//   - Offline mode (Client.Offline; see OfflineFromEnv for CLIPKIT_OFFLINE and HF_HUB_OFFLINE): never
//     touches the network, uses only verified cached files and says what is missing.
//   - Progress: a progress bar (github.com/schollz/progressbar/v3) when Client.Progress is a terminal,
//     a few plain log lines (start, each quarter, done) otherwise, nothing when it is nil.
//   - Context cancellation stops a transfer at once; the partial file is kept for a later resume.
package download
