// Command nines measures services against service-level objectives.
//
// main only wires the process to Run, so every command runs in-process in
// tests with its own arguments, input and output.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // calendar windows need IANA zones even where the system has none
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err where a person will see it and picks the exit code
// pipelines rely on: 0 every objective met, 1 an objective violated, 2
// usage or input errors.
func exitCode(err error, stderr *os.File) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.silent:
		return ee.code
	case errors.As(err, &ee):
		fmt.Fprintln(stderr, "nines:", err)
		return ee.code
	}
	fmt.Fprintln(stderr, "nines:", err)
	return 2
}
