package printfile

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParsePlacementAccepts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Placement
	}{
		{"", DefaultPlacement()},
		{"  \n", DefaultPlacement()},
		{"{}", DefaultPlacement()},
		{"null", DefaultPlacement()},
		{`{"rotation": 90}`, Placement{Scale: 1, Rotation: 90}},
		{`{"scale":1.4,"rotation":-30.5,"offset":{"x":0.1,"y":-0.05},"flipX":true,"flipY":false}`,
			Placement{Scale: 1.4, Rotation: -30.5, Offset: Offset{0.1, -0.05}, FlipX: true}},
		{`{"scale":20,"offset":{"x":5,"y":-5}}`, Placement{Scale: 20, Offset: Offset{5, -5}}},
		{`{"rotation": 7200}`, Placement{Scale: 1, Rotation: 7200}},
	} {
		got, err := ParsePlacement([]byte(tc.in))
		if err != nil {
			t.Errorf("ParsePlacement(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParsePlacement(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParsePlacementRejects(t *testing.T) {
	for _, tc := range []struct {
		in, why string
	}{
		{`{"scale": 0}`, "scale"},
		{`{"scale": -1}`, "scale"},
		{`{"scale": 20.001}`, "scale"},
		{`{"scale": 1e400}`, "scale"},
		{`{"scale": NaN}`, "invalid character"},
		{`{"scale": "Infinity"}`, "string"},
		{`{"offset": {"x": 5.5}}`, "offset"},
		{`{"offset": {"y": -6}}`, "offset"},
		{`{"offset": {"z": 1}}`, "unknown field"},
		{`{"zoom": 2}`, "unknown field"},
		{`{"flipX": "yes"}`, "flipX"},
		{`{"scale": 1} {"scale": 2}`, "after the JSON object"},
		{`{"scale": 1}x`, "after the JSON object"},
		{`{"scale": 1`, "unexpected EOF"},
		{`[1, 2]`, "array"},
		{`"fill"`, "string"},
		{`{"rotation": ` + strings.Repeat("9", 5000) + `}`, "bytes"},
	} {
		_, err := ParsePlacement([]byte(tc.in))
		if !errors.Is(err, ErrInvalidPlacement) {
			t.Errorf("ParsePlacement(%.40q) = %v, want ErrInvalidPlacement", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParsePlacement(%.40q) error %q does not say %q", tc.in, err, tc.why)
		}
	}
}

func TestValidateRejectsNonFiniteValues(t *testing.T) {
	for _, p := range []Placement{
		{Scale: math.NaN()},
		{Scale: math.Inf(1)},
		{Scale: 1, Rotation: math.NaN()},
		{Scale: 1, Rotation: math.Inf(-1)},
		{Scale: 1, Offset: Offset{X: math.NaN()}},
		{Scale: 1, Offset: Offset{Y: math.Inf(1)}},
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPlacement) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidPlacement", p, err)
		}
	}
}

func TestPhotoPoint(t *testing.T) {
	// A 200x100 photo on a 100x100 template: fill scale 1 means k = 1.
	const tw, th, pw, ph = 100, 100, 200, 100
	for _, tc := range []struct {
		name   string
		p      Placement
		x, y   float64
		wu, wv float64
	}{
		{"template centre shows photo centre", Placement{Scale: 1}, 50, 50, 100, 50},
		{"template corner", Placement{Scale: 1}, 0, 0, 50, 0},
		{"zoom 2 halves distances", Placement{Scale: 2}, 0, 0, 75, 25},
		{"offset moves the photo, not the view", Placement{Scale: 1, Offset: Offset{0.1, 0}}, 60, 50, 100, 50},
		{"rotation 90: the point right of centre shows the photo above centre", Placement{Scale: 1, Rotation: 90}, 60, 50, 100, 40},
		{"flipX mirrors about the photo centre", Placement{Scale: 1, FlipX: true}, 60, 50, 90, 50},
		{"flipY", Placement{Scale: 1, FlipY: true}, 50, 40, 100, 60},
	} {
		u, v := tc.p.PhotoPoint(tw, th, pw, ph, tc.x, tc.y)
		if math.Abs(u-tc.wu) > 1e-9 || math.Abs(v-tc.wv) > 1e-9 {
			t.Errorf("%s: PhotoPoint(%v, %v) = (%v, %v), want (%v, %v)", tc.name, tc.x, tc.y, u, v, tc.wu, tc.wv)
		}
	}
}
