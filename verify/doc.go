// Package verify watches storage the way Dropbox's verifiers do: a
// watcher written apart from the storage system writes (or samples) a
// share of the objects stored, reads each back at fixed ages (a minute,
// an hour, a day, a week and a month by default) and compares its
// SHA-256 with the one recorded at write time. Each read is an event of
// the verifier's durability SLI (DurabilitySLO): good when the bytes
// match, bad with reason "missing" or "corrupt" when they do not.
//
// The watchers are watched: a verifier that never reports an error looks
// a lot like one that is not running. Each verifier sends a heartbeat
// event every Heartbeat (HeartbeatSLO), whose SLO alerts when the events
// stop; and it plants a known-corrupt canary every CanaryEvery (an
// object whose recorded checksum is not that of its bytes), which it
// must report as bad by CanaryDeadline. A canary read as good, or not
// judged in time, marks the verifier failing: its heartbeat events turn
// bad and its Status says why. Canary reads never count in the
// durability SLI.
//
// A target that cannot be reached (a timeout, a refused connection, a
// 5xx or a 403) proves nothing about the object: the read is retried a
// minute later and not counted in the durability SLI, and the heartbeat
// events turn bad with reason "unreachable" until it answers again.
//
// The schedule of pending reads lives in State (nines' store), not in
// memory: a restart resumes it, and each read is recorded once, keyed by
// object and age (Event.ID). docs/verifiers.md is the user's guide.
package verify
