// Command benchtable reads `go test -bench` output on stdin and prints one
// table row per benchmark with the median of each metric over the runs
// (-count). Medians, not means: shared machines are noisy.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

type bench struct {
	pkg     string
	name    string
	metrics map[string][]float64
	units   []string // in first-seen order
}

func run(in io.Reader, out io.Writer) error {
	var order []*bench
	byKey := map[string]*bench{}
	pkg := ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i] // drop the GOMAXPROCS suffix
		}
		key := pkg + "." + name
		b, ok := byKey[key]
		if !ok {
			b = &bench{pkg: pkg, name: name, metrics: map[string][]float64{}}
			byKey[key] = b
			order = append(order, b)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			unit := f[i+1]
			if _, seen := b.metrics[unit]; !seen {
				b.units = append(b.units, unit)
			}
			b.metrics[unit] = append(b.metrics[unit], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\tbenchmark\truns\tmedian\t")
	for _, b := range order {
		var cells []string
		runs := 0
		for _, u := range b.units {
			vs := b.metrics[u]
			runs = max(runs, len(vs))
			cells = append(cells, human(median(vs), u))
		}
		short := b.pkg[strings.LastIndex(b.pkg, "/")+1:]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", short, b.name, runs, strings.Join(cells, "   "))
	}
	return tw.Flush()
}

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// human writes a metric in a unit people read at a glance.
func human(v float64, unit string) string {
	switch unit {
	case "ns/op":
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2f s/op", v/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms/op", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.1f µs/op", v/1e3)
		}
		return fmt.Sprintf("%.0f ns/op", v)
	case "B/op":
		switch {
		case v >= 1<<20:
			return fmt.Sprintf("%.1f MiB/op", v/(1<<20))
		case v >= 1<<10:
			return fmt.Sprintf("%.1f KiB/op", v/(1<<10))
		}
		return fmt.Sprintf("%.0f B/op", v)
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), unit)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}
