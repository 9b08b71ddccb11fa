package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// result is what one journey measured.
type result struct {
	toModels      time.Duration // QR URL opened -> the model buttons shown
	toInLine      time.Duration // Order tapped -> the status view
	uploadBytes   int64         // the body of the order's POST .../print
	modelRequests int           // requests the page made until the models showed
	modelBytes    int64         // bytes received for them by then (headers included)
}

// median is the median of xs (the mean of the middle two for an even
// count); zero for none.
func median[T int | int64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// row is one profile's medians.
type row struct {
	profile string
	runs    int
	result
}

// summarise reduces a profile's runs to their medians.
func summarise(profile string, runs []result) row {
	pick := func(f func(result) int64) []int64 {
		out := make([]int64, len(runs))
		for i, r := range runs {
			out[i] = f(r)
		}
		return out
	}
	return row{profile: profile, runs: len(runs), result: result{
		toModels:      time.Duration(median(pick(func(r result) int64 { return int64(r.toModels) }))),
		toInLine:      time.Duration(median(pick(func(r result) int64 { return int64(r.toInLine) }))),
		uploadBytes:   median(pick(func(r result) int64 { return r.uploadBytes })),
		modelRequests: int(median(pick(func(r result) int64 { return int64(r.modelRequests) }))),
		modelBytes:    median(pick(func(r result) int64 { return r.modelBytes })),
	}}
}

// writeTable prints the rows as a Markdown table of medians.
func writeTable(w io.Writer, rows []row) error {
	if _, err := fmt.Fprintln(w, "| profile | QR URL -> models shown (s) | tap Order -> in line (s) | photo bytes uploaded | requests/KB to models |\n|---|--:|--:|--:|--:|"); err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "| %s | %.2f | %.2f | %d | %d / %.0f |\n",
			r.profile, r.toModels.Seconds(), r.toInLine.Seconds(), r.uploadBytes, r.modelRequests, float64(r.modelBytes)/1000); err != nil {
			return err
		}
	}
	return nil
}
