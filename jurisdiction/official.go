package jurisdiction

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// officialYAML is China's national holiday arrangement (国务院办公厅关于…部分
// 节假日安排的通知), one entry per year: off ranges and adjusted working days.
//
//go:embed data/cn-public-holidays.yaml
var officialYAML []byte

type officialYear struct {
	Off  [][]string `yaml:"off"`
	Work []string   `yaml:"work"`
}

var official = sync.OnceValues(func() (Calendar, error) { return parseOfficial(officialYAML) })

// parseOfficial expands the embedded file's ranges into single dates.
func parseOfficial(data []byte) (Calendar, error) {
	var years map[int]officialYear
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&years); err != nil {
		return Calendar{}, fmt.Errorf("official calendar: %w", err)
	}
	var c Calendar
	for year, y := range years {
		c.OfficialYears = append(c.OfficialYears, year)
		for _, r := range y.Off {
			if len(r) != 2 {
				return Calendar{}, fmt.Errorf("official calendar %d: off range %v: want [first, last]", year, r)
			}
			first, err1 := time.Parse(DateLayout, r[0])
			last, err2 := time.Parse(DateLayout, r[1])
			if err1 != nil || err2 != nil || last.Before(first) || first.Year() != year {
				return Calendar{}, fmt.Errorf("official calendar %d: bad off range %v", year, r)
			}
			for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
				c.Off = append(c.Off, d.Format(DateLayout))
			}
		}
		for _, w := range y.Work {
			d, err := time.Parse(DateLayout, w)
			if err != nil {
				return Calendar{}, fmt.Errorf("official calendar %d: bad work date %q", year, w)
			}
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				return Calendar{}, fmt.Errorf("official calendar %d: work date %s is a %s, not a weekend day", year, w, wd)
			}
			c.Work = append(c.Work, w)
		}
	}
	c.normalise()
	return c, nil
}

// Official returns the official calendar shipped in the binary (public
// holidays and adjusted working days, for the years in its Years) in the
// given IANA time zone. Later years are added to the shipped file as the
// State Council publishes them each November; see
// Jurisdiction.MissingCalendarYears.
func Official(timezone string) Calendar {
	c, err := official()
	if err != nil {
		panic(err) // the embedded file is checked by a test
	}
	c = c.clone()
	c.Timezone = timezone
	return c
}

// clone returns a copy of c that shares no slices with it.
func (c Calendar) clone() Calendar {
	c.Off = slices.Clone(c.Off)
	c.Work = slices.Clone(c.Work)
	c.OfficialYears = slices.Clone(c.OfficialYears)
	return c
}

// normalise sorts and de-duplicates the lists and turns empty ones into nil,
// so that a calendar survives a JSON round trip unchanged.
func (c *Calendar) normalise() {
	norm := func(s []string) []string {
		slices.Sort(s)
		s = slices.Compact(s)
		if len(s) == 0 {
			return nil
		}
		return s
	}
	c.Off = norm(c.Off)
	c.Work = norm(c.Work)
	slices.Sort(c.OfficialYears)
	c.OfficialYears = slices.Compact(c.OfficialYears)
	if len(c.OfficialYears) == 0 {
		c.OfficialYears = nil
	}
}
