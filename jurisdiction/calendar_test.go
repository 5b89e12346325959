package jurisdiction

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func local(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCalendarAdd(t *testing.T) {
	cal := Official("Asia/Shanghai")
	tests := []struct {
		name string
		from string
		d    string
		want string
	}{
		{"weekdays only", "2026-03-09 10:00", "3wd", "2026-03-12 10:00"},                 // Mon → Thu
		{"across a weekend", "2026-03-13 10:00", "3wd", "2026-03-18 10:00"},              // Fri → Wed
		{"one day across a weekend", "2026-03-13 17:30", "1wd", "2026-03-16 17:30"},      // Fri → Mon
		{"from a Saturday", "2026-03-14 09:00", "1wd", "2026-03-16 09:00"},               // Sat → Mon
		{"zero working days", "2026-03-14 09:00", "0wd", "2026-03-14 09:00"},             // unchanged
		{"backwards", "2026-03-16 09:00", "-1wd", "2026-03-13 09:00"},                    // Mon → Fri
		{"into National Day", "2026-09-29 10:00", "3wd", "2026-10-09 10:00"},             // Tue; 30 Sep, (1–7 Oct off), 8, 9
		{"National Day then 调休 Saturday", "2026-09-30 15:00", "3wd", "2026-10-10 15:00"}, // 8, 9, Sat 10 (work)
		{"during the break", "2026-10-03 11:00", "1wd", "2026-10-08 11:00"},
		{"mid-autumn Friday off", "2026-09-24 10:00", "1wd", "2026-09-28 10:00"},      // Fri 25 off, weekend off
		{"调休 Sunday before the break", "2026-09-18 10:00", "1wd", "2026-09-20 10:00"}, // Sun 20 Sep is a working day
		{"clock ignores weekends", "2026-03-13 22:00", "4h", "2026-03-14 02:00"},      // Fri → Sat
		{"clock ignores holidays", "2026-09-30 20:00", "48h", "2026-10-02 20:00"},     // into the break
		{"both parts", "2026-03-13 10:00", "1wd4h", "2026-03-16 14:00"},               // Fri → Mon + 4h
		{"Spring Festival 2026", "2026-02-13 10:00", "1wd", "2026-02-14 10:00"},       // Sat 14 Feb is a working day
		{"after the Spring Festival", "2026-02-14 10:00", "1wd", "2026-02-24 10:00"},  // 15–23 off
		{"National Day 2025", "2025-09-30 10:00", "2wd", "2025-10-10 10:00"},          // 1–8 off, 9, 10
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cal.Add(local(tt.from), MustParseDuration(tt.d))
			want := local(tt.want).UTC()
			if !got.Equal(want) {
				t.Fatalf("Add(%s, %s) = %s, want %s", tt.from, tt.d, got.In(shanghai).Format("2006-01-02 15:04 Mon"), tt.want)
			}
			if got.Location() != time.UTC {
				t.Fatalf("Add returned %v, want UTC", got.Location())
			}
		})
	}
}

func TestCalendarAddUsesLocalDate(t *testing.T) {
	cal := Official("Asia/Shanghai")
	// Friday 2026-03-13 20:00 UTC is Saturday 04:00 in Shanghai: one working
	// day later is Monday 04:00 local, not Monday 20:00 UTC.
	from := time.Date(2026, 3, 13, 20, 0, 0, 0, time.UTC)
	got := cal.Add(from, WorkDays(1))
	if want := local("2026-03-16 04:00"); !got.Equal(want) {
		t.Fatalf("got %s, want %s", got, want.UTC())
	}
	// The same instant in a UTC calendar counts from Friday.
	utc := Calendar{Timezone: "UTC"}
	if got, want := utc.Add(from, WorkDays(1)), time.Date(2026, 3, 16, 20, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("UTC calendar: got %s, want %s", got, want)
	}
}

func TestCalendarIsWorkday(t *testing.T) {
	cal := Official("Asia/Shanghai")
	for day, want := range map[string]bool{
		"2026-10-01": false, // Thu, National Day
		"2026-10-07": false, // Wed, inside the break
		"2026-10-08": true,  // Thu
		"2026-10-10": true,  // Sat, adjusted working day
		"2026-10-11": false, // Sun
		"2026-09-20": true,  // Sun, adjusted working day
		"2026-03-16": true,  // an ordinary Monday
		"2026-03-14": false, // an ordinary Saturday
		"2025-10-11": true,  // Sat, adjusted working day 2025
	} {
		if got := cal.IsWorkday(local(day + " 12:00")); got != want {
			t.Errorf("IsWorkday(%s) = %v, want %v", day, got, want)
		}
	}
}

func TestCalendarBadTimezoneFallsBackToUTC(t *testing.T) {
	bad := Calendar{Timezone: "Mars/Olympus"}
	if bad.Location() != time.UTC {
		t.Fatalf("Location() = %v, want UTC", bad.Location())
	}
	from := time.Date(2026, 3, 13, 23, 0, 0, 0, time.UTC) // Friday in UTC
	if got, want := bad.Add(from, WorkDays(1)), time.Date(2026, 3, 16, 23, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestCalendarJSONRoundTrip(t *testing.T) {
	j := mustParse(t, baseDoc)
	for _, cal := range []Calendar{Official("Asia/Shanghai"), j.Calendar(), {Timezone: "UTC"}} {
		b, err := json.Marshal(cal)
		if err != nil {
			t.Fatal(err)
		}
		var back Calendar
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, cal) {
			t.Fatalf("JSON round trip changed the calendar:\n%+v\n%+v", cal, back)
		}
		b2, _ := json.Marshal(back)
		if string(b2) != string(b) {
			t.Fatalf("JSON differs after a round trip:\n%s\n%s", b, b2)
		}
	}
}

func TestOfficial(t *testing.T) {
	c := Official("Asia/Shanghai")
	if got := c.Years(); !slices.Equal(got, []int{2025, 2026}) {
		t.Fatalf("Years() = %v, want [2025 2026]", got)
	}
	if c.Timezone != "Asia/Shanghai" {
		t.Fatalf("Timezone = %q", c.Timezone)
	}
	for _, d := range []string{"2026-10-01", "2026-10-07", "2026-02-15", "2026-02-23", "2025-01-28", "2025-10-08"} {
		if !slices.Contains(c.Off, d) {
			t.Errorf("Off lacks %s", d)
		}
	}
	if len(c.Work) != 11 || !slices.Contains(c.Work, "2026-10-10") {
		t.Errorf("Work = %v", c.Work)
	}
	// Every call returns its own copy.
	c.Off[0] = "changed"
	if Official("UTC").Off[0] == "changed" {
		t.Fatal("Official shares its slices between calls")
	}
	// Years falls back to the dates when OfficialYears is not set.
	if got := (Calendar{Off: []string{"2030-01-01"}, Work: []string{"2029-12-29"}}).Years(); !slices.Equal(got, []int{2029, 2030}) {
		t.Fatalf("derived Years() = %v", got)
	}
}

func TestParseOfficialRejectsBadData(t *testing.T) {
	for _, doc := range []string{
		"2027:\n  off: [[2027-01-01]]\n",
		"2027:\n  off: [[2027-01-03, 2027-01-01]]\n",
		"2027:\n  off: [[2026-12-31, 2027-01-01]]\n",
		"2027:\n  work: [2027-01-04]\n", // a Monday
		"2027:\n  holidays: []\n",
	} {
		if _, err := parseOfficial([]byte(doc)); err == nil {
			t.Errorf("parseOfficial accepted %q", doc)
		}
	}
}
