package ui

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// palette reads the light and dark colours of every variable between the
// palette markers of the embedded stylesheet.
func palette(t *testing.T) (light, dark map[string][3]float64) {
	t.Helper()
	css, err := staticFS.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)/\* palette:begin \*/(.*?)/\* palette:end \*/`).FindSubmatch(css)
	if block == nil {
		t.Fatal("no palette block in style.css")
	}
	light, dark = map[string][3]float64{}, map[string][3]float64{}
	re := regexp.MustCompile(`--([a-z-]+):\s*light-dark\(#([0-9a-f]{6}),\s*#([0-9a-f]{6})\);`)
	for _, m := range re.FindAllSubmatch(block[1], -1) {
		light[string(m[1])], dark[string(m[1])] = rgb(string(m[2])), rgb(string(m[3]))
	}
	if len(light) < 10 {
		t.Fatalf("read %d palette colours", len(light))
	}
	return light, dark
}

func rgb(hex string) [3]float64 {
	var c [3]float64
	for i := range 3 {
		v, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		c[i] = float64(v) / 255
	}
	return c
}

// luminance is the WCAG 2 relative luminance.
func luminance(c [3]float64) float64 {
	var l [3]float64
	for i, v := range c {
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// contrast is the WCAG 2 contrast ratio of two colours.
func contrast(a, b [3]float64) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func TestContrastFormula(t *testing.T) {
	f := func(a, b string, want float64) {
		t.Helper()
		if got := contrast(rgb(a), rgb(b)); math.Abs(got-want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", a, b, got, want)
		}
	}
	f("000000", "ffffff", 21)
	f("777777", "ffffff", 4.48) // the classic grey that just fails AA
	f("0072b2", "ffffff", 5.19)
}

// TestPaletteContrast checks every text colour against the page and card
// backgrounds at 4.5:1 (WCAG AA for text) and every chart colour at 3:1
// (non-text contrast), in both themes.
func TestPaletteContrast(t *testing.T) {
	light, dark := palette(t)
	text := []string{"text", "muted", "link", "good-text", "bad-text"}
	marks := []string{"good", "bad", "unmeasured", "series", "ideal", "mark"}
	for theme, p := range map[string]map[string][3]float64{"light": light, "dark": dark} {
		for _, bg := range []string{"bg", "surface"} {
			for _, fg := range text {
				if r := contrast(p[fg], p[bg]); r < 4.5 {
					t.Errorf("%s theme: text --%s on --%s is %.2f:1, want ≥ 4.5:1", theme, fg, bg, r)
				}
			}
			for _, fg := range marks {
				if r := contrast(p[fg], p[bg]); r < 3 {
					t.Errorf("%s theme: chart --%s on --%s is %.2f:1, want ≥ 3:1", theme, fg, bg, r)
				}
			}
		}
		// Good and bad must part for every reader: by lightness as well as
		// hue, so they differ even in greyscale (the hatch on bad marks
		// helps too, but a 2-pixel bar has no room for a pattern).
		if r := contrast(p["good"], p["bad"]); r < 1.5 {
			t.Errorf("%s theme: --good and --bad differ by %.2f:1 in lightness, want ≥ 1.5:1", theme, r)
		}
	}
}
