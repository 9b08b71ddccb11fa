package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMedianTable(t *testing.T) {
	in := `goos: linux
pkg: casefleet/agent/queue
BenchmarkTransition-2   	 1000	  2000000 ns/op	  31000 B/op	 212 allocs/op
BenchmarkTransition-2   	 1000	  1000000 ns/op	  31000 B/op	 212 allocs/op
BenchmarkTransition-2   	 1000	  9000000 ns/op	  31000 B/op	 212 allocs/op
pkg: casefleet/agent/printfile
BenchmarkPrintFile12MP-2	   3	 700000000 ns/op	 56.6 peak-MB	 37200000 B/op
PASS
`
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"queue", "Transition", "2.00 ms/op", "30.3 KiB/op", "212 allocs/op", "printfile", "700.00 ms/op", "56.6 peak-MB"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if err := run(strings.NewReader("PASS\n"), &out); err == nil {
		t.Error("no error for input without benchmarks")
	}
}
