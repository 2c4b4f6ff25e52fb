package thirdparty

import (
	"reflect"
	"testing"
	"time"
)

func TestCreditTiers(t *testing.T) {
	sla := testConfig(t).Vendor("edgecdn").SLA // 99.9; below 99.9 → 10, below 99 → 25, below 95 → 100
	f := func(good, total uint64, met bool, credit float64, status string) {
		t.Helper()
		rows, err := Monthly(sla, []MonthCount{{Month: Month{Start: t0}, Good: good, Total: total}})
		if err != nil {
			t.Fatal(err)
		}
		r := rows[0]
		if r.Met != met || r.CreditPercent != credit || r.Status != status {
			t.Errorf("%d of %d: met %v, credit %g %%, %s; want met %v, credit %g %%, %s", good, total, r.Met, r.CreditPercent, r.Status, met, credit, status)
		}
	}
	f(1000, 1000, true, 0, "met")
	f(999, 1000, true, 0, "met")        // exactly 99.9 %: met, no credit
	f(9989, 10000, false, 10, "missed") // 99.89 %
	f(990, 1000, false, 10, "missed")   // exactly 99 %: below 99.9 only
	f(9899, 10000, false, 25, "missed") // 98.99 %
	f(950, 1000, false, 25, "missed")   // exactly 95 %
	f(9499, 10000, false, 100, "missed")
	f(0, 1000, false, 100, "missed")
	f(0, 0, false, 0, "no data")
}

func TestMonthly(t *testing.T) {
	sla := testConfig(t).Vendor("edgecdn").SLA
	months, err := Months(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), 3, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Monthly(sla, []MonthCount{
		{Month: months[0], Good: 44640, Total: 44640},
		{Month: months[1]},
		{Month: months[2], Good: 20000, Total: 20160, Partial: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Month+" "+r.Status)
	}
	if want := []string{"2026-01 met", "2026-02 no data", "2026-03 so far missed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v; want %v", got, want)
	}
	if rows[1].Measured != nil || rows[1].Met {
		t.Errorf("a month without data = %+v; want no figure, not met", rows[1])
	}
	if rows[0].Promised != 99.9 || *rows[0].Measured != 100 {
		t.Errorf("January = %+v", rows[0])
	}
	if _, err := Monthly(sla, []MonthCount{{Month: months[0], Good: 2, Total: 1}}); err == nil {
		t.Error("more good than total taken")
	}
}

func TestMonths(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	// 23:30 UTC on 31 January is already February in Berlin.
	ms, err := Months(time.Date(2026, 1, 31, 23, 30, 0, 0, time.UTC), 2, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Name() != "2026-01" || ms[1].Name() != "2026-02" || !ms[1].End.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, berlin)) {
		t.Errorf("months = %+v", ms)
	}
	if ms[0].Start.UTC() != time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC) {
		t.Errorf("January in Berlin starts %s UTC", ms[0].Start.UTC())
	}
	if _, err := Months(t0, 0, time.UTC); err == nil {
		t.Error("zero months taken")
	}
}
