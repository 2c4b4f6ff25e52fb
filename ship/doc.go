// Package ship follows log files into a nines server, exactly once.
//
// A Shipper watches the files that its glob patterns match, reads the
// lines appended to them, parses each with a Parser and sends them in
// batches, as events (POST /api/v1/events) or, with Config.Rollup, as
// per-quantum rollups it counts itself (POST /api/v1/rollups).
//
// # Files
//
// A file's content is told apart by the device and inode it was first
// read from and by a fingerprint: a SHA-256 of its first bytes (up to
// 1 KiB). The inode follows a file that is renamed (access.log becomes
// access.log.1); the fingerprint recognises a copy of it (logrotate's
// copytruncate, or the .gz that compress leaves), so reading goes on in
// the copy at the offset already read, and notices a file that was
// truncated in place, which then starts a new content at offset 0.
// Compressed copies are read through gzip. Files that are renamed out of
// the patterns stay open and are read to their end; new files matching a
// pattern are picked up on the next poll.
//
// # Exactly once
//
// Every batch covers whole lines: a byte range of one or more files.
// Before a batch is sent, the state file records it as pending together
// with the offsets read so far, and the state is written atomically (a
// temporary file, fsync, rename, fsync of the directory). The batch's
// Idempotency-Key is derived from the state's nonce and the ranges it
// covers, and the server keeps keys for 24 hours, so a batch sent again
// (a retry after a timeout, or the pending batches a restarted shipper
// sends first, rebuilt from the same bytes) is stored once. A batch the
// server answers with 422 (its key was stored with another body, as when
// the SLI changed between two attempts of a rollup) was stored, and is
// counted as delivered.
//
// A state file that cannot be read as written (bad JSON, a wrong
// checksum, offsets that contradict each other) is refused with its path
// and how to reset it: guessing would send everything again, or nothing.
package ship
