package jurisdiction

import (
	"slices"
	"strconv"
	"sync"
	"time"
	_ "time/tzdata" // time zones load in containers without /usr/share/zoneinfo
)

// DateLayout is how calendar days are written: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// Calendar is a serialisable working-day calendar. It travels inside
// Temporal workflow inputs, so it is plain data (JSON round-trips exactly)
// and its methods are pure and deterministic.
type Calendar struct {
	// Timezone is the IANA name of the zone whose local dates count,
	// e.g. Asia/Shanghai. Empty means UTC.
	Timezone string `json:"timezone"`
	// Off lists days off as YYYY-MM-DD: public holidays, including the
	// weekend days inside a break, and local closures.
	Off []string `json:"off,omitempty"`
	// Work lists weekend days that are working days (调休), as YYYY-MM-DD.
	Work []string `json:"work,omitempty"`
	// OfficialYears lists the years for which Off and Work hold the
	// official holiday arrangement (see Years).
	OfficialYears []int `json:"official_years,omitempty"`
}

// locations caches loaded time zones; loading is deterministic, so the cache
// does not make Calendar's methods impure.
var locations sync.Map // string → *time.Location

// Location returns c's time zone. When the zone cannot be loaded (an unknown
// name) it falls back to UTC; a validated jurisdiction never has such a name,
// and the zone database is compiled in (time/tzdata).
func (c Calendar) Location() *time.Location {
	if c.Timezone == "" || c.Timezone == "UTC" {
		return time.UTC
	}
	if l, ok := locations.Load(c.Timezone); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	locations.Store(c.Timezone, l)
	return l
}

// IsWorkday reports whether t falls on a working day in c's time zone:
// Monday to Friday unless the date is in Off; Saturday and Sunday only if
// the date is in Work.
func (c Calendar) IsWorkday(t time.Time) bool {
	return c.isWorkdayLocal(t.In(c.Location()))
}

func (c Calendar) isWorkdayLocal(local time.Time) bool {
	// The date as DateLayout writes it, without formatting (Add asks this
	// for every day it walks: whatif asks it millions of times).
	y, m, d := local.Date()
	var b [10]byte
	b[0], b[1], b[2], b[3] = byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	b[4], b[5], b[6], b[7] = '-', byte('0'+int(m)/10), byte('0'+int(m)%10), '-'
	b[8], b[9] = byte('0'+d/10), byte('0'+d%10)
	listed := func(days []string) bool {
		for _, s := range days {
			if s == string(b[:]) {
				return true
			}
		}
		return false
	}
	switch local.Weekday() {
	case time.Saturday, time.Sunday:
		return listed(c.Work)
	default:
		return !listed(c.Off)
	}
}

// Add returns the deadline d after from, in UTC.
//
// Clock time is added as is: the calendar is ignored ("2h" after Friday
// 17:00 is Friday 19:00).
//
// N working days are counted on local dates in c's time zone: starting from
// from's local date (which itself never counts), step forward one day at a
// time, counting only working days (IsWorkday), until N have been counted;
// the deadline is that day at the same local time of day as from. So with no
// holidays 3wd from Friday 10:00 is Wednesday 10:00, and 1wd from Saturday
// 10:00 is Monday 10:00. A negative N counts backwards the same way. When d
// has both parts, the working days are counted first and the clock time is
// added to the result.
//
// If c's time zone cannot be loaded, UTC is used (see Location).
func (c Calendar) Add(from time.Time, d Duration) time.Time {
	t := from
	if d.WorkDays != 0 {
		loc := c.Location()
		local := from.In(loc)
		y, m, dd := local.Date()
		step := 1
		n := d.WorkDays
		if n < 0 {
			step, n = -1, -n
		}
		// Walk dates at noon so no DST transition can skip or repeat a day.
		day := time.Date(y, m, dd, 12, 0, 0, 0, loc)
		for counted := 0; counted < n; {
			day = day.AddDate(0, 0, step)
			if c.isWorkdayLocal(day) {
				counted++
			}
		}
		y, m, dd = day.Date()
		t = time.Date(y, m, dd, local.Hour(), local.Minute(), local.Second(), local.Nanosecond(), loc)
	}
	return t.Add(d.Clock).UTC()
}

// Years returns, in ascending order, the years for which the calendar holds
// official holiday data: OfficialYears when set, otherwise the years of the
// dates in Off and Work.
func (c Calendar) Years() []int {
	if len(c.OfficialYears) > 0 {
		ys := slices.Clone(c.OfficialYears)
		slices.Sort(ys)
		return slices.Compact(ys)
	}
	var ys []int
	for _, list := range [][]string{c.Off, c.Work} {
		for _, s := range list {
			if len(s) < 4 {
				continue
			}
			if y, err := strconv.Atoi(s[:4]); err == nil {
				ys = append(ys, y)
			}
		}
	}
	slices.Sort(ys)
	return slices.Compact(ys)
}

// Covers reports whether the calendar holds official data for year.
func (c Calendar) Covers(year int) bool { return slices.Contains(c.Years(), year) }
