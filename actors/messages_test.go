package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

func TestFormatDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{999 * time.Millisecond, "0s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m 0s"},
		{4*time.Minute + 32*time.Second, "4m 32s"},
		{59*time.Minute + 59*time.Second, "59m 59s"},
		{time.Hour, "1h 0m"},
		{3*time.Hour + 45*time.Minute + 59*time.Second, "3h 45m"},
		{23*time.Hour + 59*time.Minute, "23h 59m"},
		{24 * time.Hour, "1d 0h"},
		{50*time.Hour + 30*time.Minute, "2d 2h"},
		{-time.Second, "0s"},
	}
	for _, tc := range cases {
		if got := FormatDuration(tc.d); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestMessagesAreDesignMDs(t *testing.T) {
	peer := domain.Peer("dec.mesh.dupunkto.org")
	cases := []struct{ got, want string }{
		{downMessage(peer, domain.Maintenance{}, t0, nil, 0, 0, t0).Text, "🔴 `dec.mesh.dupunkto.org` is unreachable"},
		{recoveryMessage(peer, 4*time.Minute+32*time.Second, t0).Text, "🟢 `dec.mesh.dupunkto.org` is reachable again (down for 4m 32s)"},
		{reminderMessage(peer, 0, 0, 0, 35*time.Minute+12*time.Second, t0).Text, "🟠 `dec.mesh.dupunkto.org` is still unreachable (down for 35m 12s)"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// With cluster alerts, the down and reminder messages count the nodes that
// see the subject. While another node is down too, "from 2 of 3 nodes"
// would read as if one could reach it: only the nodes that answer count,
// and the rest are said apart.
func TestAnOutageIsCountedFromTheNodesThatAnswer(t *testing.T) {
	peer, target := domain.Peer("dec"), domain.Target("https://shop.example/")
	cases := []struct{ got, want string }{
		{downMessage(peer, domain.Maintenance{}, t0, []string{"a", "b", "c", "d"}, 4, 5, t0).Text, "🔴 `dec` is unreachable from 4 of 5 nodes (a, b, c, d)"},
		{downMessage(target, domain.Maintenance{}, t0, []string{"a", "b", "c"}, 3, 3, t0).Text, "🔴 `https://shop.example/` is unreachable from 3 of 3 nodes (a, b, c)"},
		{reminderMessage(target, 2, 2, 3, time.Minute, t0).Text, "🟠 `https://shop.example/` is still unreachable from 2 of 2 nodes that answer; 1 node down (down for 1m 0s)"},
		{downMessage(target, domain.Maintenance{}, t0, []string{"a", "b"}, 3, 5, t0).Text, "🔴 `https://shop.example/` is unreachable from 2 of 3 nodes that answer; 2 nodes down (a, b)"},
		{downMessage(peer, domain.Maintenance{Reason: domain.MaintenanceLeave}, t0, []string{"a", "b"}, 2, 3, t0.Add(15*time.Minute)).Text, "🔴 `dec` stopped 15m 0s ago and has not come back; unreachable from 2 of 3 nodes (a, b)"},
		{downMessage(peer, domain.Maintenance{Reason: domain.MaintenanceLeave}, t0, nil, 0, 0, t0.Add(15*time.Minute)).Text, "🔴 `dec` stopped 15m 0s ago and has not come back"},
		{reminderMessage(peer, 3, 3, 5, time.Minute, t0).Text, "🟠 `dec` is still unreachable from 3 of 3 nodes that answer; 1 other node down (down for 1m 0s)"},
		{reminderMessage(peer, 1, 1, 4, time.Minute, t0).Text, "🟠 `dec` is still unreachable from 1 of 1 node that answers; 2 other nodes down (down for 1m 0s)"},
	}
	// A large cluster: ten names, the rest counted, so that a message stays
	// well inside what a chat service takes (Discord: 2,000 characters).
	var many []string
	for i := range 99 {
		many = append(many, fmt.Sprintf("node%02d.mesh.example.org", i))
	}
	cases = append(cases,
		struct{ got, want string }{downMessage(peer, domain.Maintenance{}, t0, many, 99, 100, t0).Text,
			"🔴 `dec` is unreachable from 99 of 100 nodes (node00.mesh.example.org, node01.mesh.example.org, node02.mesh.example.org, node03.mesh.example.org, node04.mesh.example.org, node05.mesh.example.org, node06.mesh.example.org, node07.mesh.example.org, node08.mesh.example.org, node09.mesh.example.org and 89 more)"},
		struct{ got, want string }{partialMessage(peer, many[:40], many[40:], t0).Text,
			"🟠 `dec` is unreachable from node00.mesh.example.org, node01.mesh.example.org, node02.mesh.example.org, node03.mesh.example.org, node04.mesh.example.org, node05.mesh.example.org, node06.mesh.example.org, node07.mesh.example.org, node08.mesh.example.org, node09.mesh.example.org and 30 more; reachable from node40.mesh.example.org, node41.mesh.example.org, node42.mesh.example.org, node43.mesh.example.org, node44.mesh.example.org, node45.mesh.example.org, node46.mesh.example.org, node47.mesh.example.org, node48.mesh.example.org, node49.mesh.example.org and 49 more"},
	)
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got  %q\nwant %q", tc.got, tc.want)
		}
	}
}
