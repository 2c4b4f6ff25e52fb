package durability

import (
	"math"
	"testing"
	"time"
)

func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// The worked figures: AFR 3 %, MTTR 24 h, three replicas (n = 3, m = 2):
// MTTF ≈ 287,795 h, ≈ 7.25×10⁻¹⁴ losses per hour, ≈ 6.35×10⁻¹⁰ per year,
// about nine nines a year.
func TestPublishedReplicationFigures(t *testing.T) {
	r, err := Evaluate(Group{N: 3, Tolerate: 2, AFR: 0.03, MTTR: 24 * time.Hour}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Round(r.MTTFHours) != 287795 {
		t.Errorf("MTTF %.1f h, want 287,795", r.MTTFHours)
	}
	if got := math.Round(r.LossRatePerHour*1e16) / 100; got != 7.25 {
		t.Errorf("loss rate %.4g per hour, want 7.25e-14", r.LossRatePerHour)
	}
	if got := math.Round(r.LossPerYear*1e12) / 100; got != 6.35 && got != 6.36 {
		t.Errorf("loss %.4g per year, want 6.35e-10", r.LossPerYear)
	}
	if math.Floor(r.Nines) != 9 {
		t.Errorf("%.2f nines, want about nine", r.Nines)
	}
	// The exact chain agrees while repairs are far faster than failures.
	if !near(r.ExactRatePerHour, r.LossRatePerHour, 1e-3) {
		t.Errorf("exact rate %.6g, approximation %.6g", r.ExactRatePerHour, r.LossRatePerHour)
	}
}

// Reed–Solomon 6+3 (n = 9, m = 3), AFR 2 %, MTTR 48 h, by hand:
// MTTF = −8766 / ln 0.98 = 433,903.9 h; λ = 2.30466e-6, μ = 1/48;
// 9!/(5!·3!) = 504; rate = 504 · λ⁴ / μ³ = 504 · 2.8212e-23 · 110,592
// = 1.5725e-15 per hour.
func TestErasureCodeByHand(t *testing.T) {
	r, err := Evaluate(Group{N: 9, Tolerate: 3, AFR: 0.02, MTTR: 48 * time.Hour}, 1)
	if err != nil {
		t.Fatal(err)
	}
	lambda := -math.Log(0.98) / 8766
	want := 504 * math.Pow(lambda, 4) * math.Pow(48, 3)
	if !near(r.LossRatePerHour, want, 1e-12) || !near(r.LossRatePerHour, 1.5725e-15, 1e-3) {
		t.Errorf("rate %.6g, want %.6g (1.5725e-15)", r.LossRatePerHour, want)
	}
	if !near(r.ExactRatePerHour, r.LossRatePerHour, 2e-3) {
		t.Errorf("exact %.6g against %.6g", r.ExactRatePerHour, r.LossRatePerHour)
	}
}

func TestGroupsMultiplyAndSensitivities(t *testing.T) {
	g := Group{N: 3, Tolerate: 2, AFR: 0.03, MTTR: 24 * time.Hour}
	one, _ := Evaluate(g, 1)
	many, _ := Evaluate(g, 1_000_000)
	if !near(many.LossPerYear, -math.Expm1(-one.LossRatePerHour*1e6*HoursPerYear), 1e-12) || many.Nines >= one.Nines {
		t.Errorf("a million groups: %+v", many)
	}
	ss, err := Sensitivities(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Halving MTTR divides the rate by 2^m = 4; doubling AFR multiplies
	// it by about 2^(m+1) = 8; one more copy gains orders of magnitude.
	if !near(ss[1].LossRatePerHour, ss[0].LossRatePerHour/4, 1e-9) || !near(ss[2].LossRatePerHour/ss[0].LossRatePerHour, 8, 0.05) ||
		ss[3].LossRatePerHour > ss[0].LossRatePerHour*1e-3 {
		t.Errorf("sensitivities %+v", ss)
	}
}

func TestRefusals(t *testing.T) {
	for _, g := range []Group{
		{N: 3, Tolerate: 3, AFR: 0.03, MTTR: time.Hour},
		{N: 3, Tolerate: 2, AFR: 3, MTTR: time.Hour},
		{N: 3, Tolerate: 2, AFR: 0.03},
		{N: 0, AFR: 0.03, MTTR: time.Hour},
	} {
		if _, err := Evaluate(g, 1); err == nil {
			t.Errorf("%+v accepted", g)
		}
	}
}
