package ink

import (
	"slices"
	"testing"
)

func TestLowColours(t *testing.T) {
	for _, tc := range []struct {
		in   Levels
		want []string
	}{
		{AllUnknown(), nil},
		{Levels{Cyan: OK, Magenta: Low, Yellow: OK, Black: Low}, []string{"magenta", "black"}},
		{Levels{Cyan: Low, Magenta: Low, Yellow: Low, Black: Low}, []string{"cyan", "magenta", "yellow", "black"}},
	} {
		if got := tc.in.LowColours(); !slices.Equal(got, tc.want) {
			t.Errorf("%+v.LowColours() = %v, want %v", tc.in, got, tc.want)
		}
	}
}
