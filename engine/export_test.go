package engine

import "time"

// StepOne readies the SLO called name for stepping one quantum at a time
// as a live engine does (its backfill replayed as of now), and returns a
// step (the tracker's and the alerts') and a func that ends the stepping.
// For benchmarks outside the package.
func StepOne(e *Engine, name string, now time.Time) (step func() error, done func()) {
	en, err := e.entry(name)
	if err != nil {
		return func() error { return err }, func() {}
	}
	e.replayIfDue(en, now)
	en.mu.Lock()
	at := en.run.tracker.Elapsed()
	return func() error {
		at = at.Add(en.slo.Quantum)
		if err := en.run.step(at, en.handOver); err != nil {
			return err
		}
		_, err := en.run.evaluate(true)
		return err
	}, en.mu.Unlock
}
