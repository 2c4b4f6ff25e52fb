package forecast

import (
	"fmt"
	"time"
)

const (
	hoursPerWeek = 7 * 24
	week         = 7 * 24 * time.Hour
)

// profile is the expected traffic of a quantum by its hour of the week
// (UTC): the mean attempted events per measured quantum of that hour over
// the last ProfileWeeks weeks. An hour of the week nothing measured takes
// the mean of its hour of the day, and failing that the overall mean, so a
// history shorter than a week still has a daily pattern.
type profile struct {
	perHour [hoursPerWeek]float64
	days    float64
}

// hourOfWeek numbers the hours of the week from the epoch's; only equal
// hours need equal numbers.
func hourOfWeek(t time.Time) int {
	return int((t.Unix()/3600)%hoursPerWeek+hoursPerWeek) % hoursPerWeek
}

// newProfile averages the measured quanta of h in the ProfileWeeks weeks
// before the quantum boundary n.
func newProfile(h *History, n int) *profile {
	var sum, cnt [hoursPerWeek]float64
	from := max(0, n-int(ProfileWeeks*week/h.Quantum))
	n = min(n, len(h.Quanta))
	qns, hourNs, startNs := int64(h.Quantum), int64(time.Hour), h.Start.UnixNano()
	for i := from; i < n; {
		// Walk an hour at a time: every quantum of an hour shares its slot.
		ns := startNs + int64(i)*qns
		hour := ns / hourNs
		slot := int(hour%hoursPerWeek+hoursPerWeek) % hoursPerWeek
		end := min(n, i+max(1, int(((hour+1)*hourNs-ns+qns-1)/qns)))
		for ; i < end; i++ {
			if q := &h.Quanta[i]; q.Measured {
				sum[slot] += q.Attempted
				cnt[slot]++
			}
		}
	}
	p := &profile{days: float64(n-from) * h.Quantum.Hours() / 24}
	var daySum, dayCnt [24]float64
	var all, allCnt float64
	for s := range sum {
		daySum[s%24] += sum[s]
		dayCnt[s%24] += cnt[s]
		all += sum[s]
		allCnt += cnt[s]
	}
	for s := range p.perHour {
		switch {
		case cnt[s] > 0:
			p.perHour[s] = sum[s] / cnt[s]
		case dayCnt[s%24] > 0:
			p.perHour[s] = daySum[s%24] / dayCnt[s%24]
		case allCnt > 0:
			p.perHour[s] = all / allCnt
		}
	}
	return p
}

// slot is the hour of the week of h's quantum i, as hourOfWeek numbers
// it, in integers: a projection asks for every quantum of a month.
func (p *profile) slot(h *History, i int) int {
	ns := h.Start.UnixNano() + int64(i)*int64(h.Quantum)
	return int((ns/int64(time.Hour))%hoursPerWeek+hoursPerWeek) % hoursPerWeek
}

func (p *profile) describe() string {
	return fmt.Sprintf("expected events per quantum by hour of the week (UTC), averaged over the last %.1f days", p.days)
}
