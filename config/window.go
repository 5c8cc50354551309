package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // a scratch image has no zoneinfo: windows name time zones

	"github.com/robfig/cron/v3"

	"github.com/dupunkto/mesh/actors/domain"
)

// maxWindowLength bounds a maintenance window: a day.
const maxWindowLength = 24 * time.Hour

// ParseWindow reads one maintenance window: a standard five-field cron
// expression (minute hour day-of-month month day-of-week, as crontab and
// systemd's unattended upgrades are written), how long the window lasts,
// and optionally a time zone (IANA, as Europe/Amsterdam; UTC if none):
// "0 3 * * 0 2h Europe/Amsterdam" is Sundays 03:00 to 05:00 Amsterdam
// time. The schedule is read by robfig/cron, the field's standard parser.
func ParseWindow(spec string) (domain.Window, error) {
	fields := strings.Fields(spec)
	if len(fields) != 6 && len(fields) != 7 {
		return domain.Window{}, errors.New("a window is a cron expression of five fields, a duration and an optional time zone: \"0 3 * * 0 2h Europe/Amsterdam\"")
	}
	zone := "UTC"
	if len(fields) == 7 {
		zone = fields[6]
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		return domain.Window{}, fmt.Errorf("time zone %q is not an IANA time zone such as Europe/Amsterdam or UTC", zone)
	}
	sched, err := cron.ParseStandard(strings.Join(fields[:5], " "))
	if err != nil {
		return domain.Window{}, fmt.Errorf("cron expression %q: %v", strings.Join(fields[:5], " "), err)
	}
	d, err := time.ParseDuration(fields[5])
	if err != nil || d < time.Second || d > maxWindowLength {
		return domain.Window{}, fmt.Errorf("duration %q: must be from 1s to %s", fields[5], maxWindowLength)
	}
	next := func(t time.Time) time.Time { return sched.Next(t.In(loc)) }
	return domain.NewWindow(strings.Join(fields, " "), d, next), nil
}

// ParseWindows reads MAINTENANCE: windows separated by ";", at most
// domain.MaxWindows.
func ParseWindows(v string) ([]domain.Window, error) {
	var out []domain.Window
	for _, spec := range strings.Split(v, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		w, err := ParseWindow(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if len(out) > domain.MaxWindows {
		return nil, fmt.Errorf("more than %d windows", domain.MaxWindows)
	}
	return out, nil
}
