package container

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// cluster is three containers of the offline image on a private network,
// each with a named volume, and everything the test made, to remove.
type cluster struct {
	t       *testing.T
	image   string
	network string
	secret  string
	names   []string
}

func newCluster(t *testing.T) *cluster {
	id := randomID()
	c := &cluster{t: t, image: offlineImage(t), network: "mesh-e2e-" + id, secret: randomID() + randomID()}
	for _, n := range []string{"a", "b", "c"} {
		c.names = append(c.names, "mesh-e2e-"+id+"-"+n)
	}
	mustDocker(t, "network", "create", c.network)
	t.Cleanup(c.remove)
	for _, name := range c.names {
		c.start(name)
	}
	return c
}

// start runs the node called name with its volume; a node started again
// finds what it saved there.
func (c *cluster) start(name string) {
	c.t.Helper()
	var peers []string
	for _, n := range c.names {
		peers = append(peers, "http://"+n+":4000")
	}
	mustDocker(c.t, "run", "--detach", "--name", name, "--network", c.network,
		"--volume", name+":/data", "--publish", "127.0.0.1::4000",
		// The image checks health every 15s; a test has no time for that, so
		// the same check runs every second.
		"--health-interval", "1s",
		"--env", "NODE="+name+":4000",
		"--env", "PEERS="+strings.Join(peers, ","),
		"--env", "RELAY_SECRET="+c.secret,
		"--env", "POLL_INTERVAL=250ms",
		"--env", "PROBE_TIMEOUT=1s",
		"--env", "FAILURE_THRESHOLD=2",
		c.image)
}

// addr is where the test reaches a node: its published port on loopback.
func (c *cluster) addr(name string) string {
	c.t.Helper()
	return firstLine(mustDocker(c.t, "port", name, "4000/tcp"))
}

// sees reports whether observer's /state shows peer with status.
func (c *cluster) sees(observer, peer, status string) bool {
	s, err := getState(c.addr(observer))
	return err == nil && s.Peers[peer+":4000"].Status == status
}

func (c *cluster) remove() {
	if c.t.Failed() {
		for _, name := range c.names {
			logs, _ := run(execDocker("logs", "--tail", "40", name))
			c.t.Logf("%s logs:\n%s", name, logs)
		}
	}
	for _, name := range c.names {
		if _, err := docker("rm", "--force", name); err != nil {
			c.t.Log(err)
		}
		if _, err := docker("volume", "rm", name); err != nil {
			c.t.Log(err)
		}
	}
	if _, err := docker("network", "rm", c.network); err != nil {
		c.t.Log(err)
	}
}

func TestThreeContainersSeeOutagesAndKeepThemAcrossARestart(t *testing.T) {
	c := newCluster(t)
	a, b, third := c.names[0], c.names[1], c.names[2]

	eventually(t, 30*time.Second, "every node to see the other two up", func() bool {
		for _, obs := range c.names {
			for _, peer := range c.names {
				if obs != peer && !c.sees(obs, peer, "up") {
					return false
				}
			}
		}
		return true
	})
	eventually(t, 30*time.Second, "every container to be healthy", func() bool {
		for _, name := range c.names {
			if mustDocker(t, "inspect", "--format", "{{.State.Health.Status}}", name) != "healthy" {
				return false
			}
		}
		return true
	})

	// A node killed outright: both others see it down.
	mustDocker(t, "kill", a)
	eventually(t, 20*time.Second, "both others to see the killed node down", func() bool {
		return c.sees(b, a, "down") && c.sees(third, a, "down")
	})

	// A node cut off its network: seen down; back on it, seen up.
	mustDocker(t, "network", "disconnect", c.network, b)
	eventually(t, 20*time.Second, "the cut-off node seen down", func() bool { return c.sees(third, b, "down") })
	mustDocker(t, "network", "connect", c.network, b)
	eventually(t, 20*time.Second, "the reconnected node seen up, and seeing again", func() bool {
		return c.sees(third, b, "up") && c.sees(b, third, "up")
	})

	// The third node knows the first is down. docker stop ends it cleanly
	// (SIGTERM, state saved) within 5s; a new container on the same volume
	// carries on with the same outage, since and all.
	before, err := getState(c.addr(third))
	if err != nil {
		t.Fatal(err)
	}
	outage := before.Peers[a+":4000"]
	if outage.Status != "down" || outage.Since == nil {
		t.Fatalf("%s sees %s as %+v, want down", third, a, outage)
	}
	start := time.Now()
	mustDocker(t, "stop", "--time", "10", third)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("docker stop took %s, want at most 5s", took)
	}
	if code := mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", third); code != "0" {
		t.Errorf("the stopped node exited %s, want 0", code)
	}
	logs, _ := run(execDocker("logs", third))
	if !strings.Contains(logs, `"message":"mesh stopped"`) {
		t.Errorf("the stopped node's logs do not end with mesh stopped:\n%s", logs)
	}
	mustDocker(t, "rm", third)
	c.start(third)
	eventually(t, 20*time.Second, "the restarted node to answer", func() bool {
		_, err := getState(c.addr(third))
		return err == nil
	})
	after, err := getState(c.addr(third))
	if err != nil {
		t.Fatal(err)
	}
	kept := after.Peers[a+":4000"]
	if kept.Status != "down" || kept.Since == nil || *kept.Since != *outage.Since {
		t.Fatalf("after the restart %s sees %s as %+v, want down since %s as before", third, a, fmtView(kept), *outage.Since)
	}
	logs, _ = run(execDocker("logs", third))
	if !strings.Contains(logs, `"message":"state file loaded"`) {
		t.Errorf("the restarted node did not say it loaded its state file:\n%s", logs)
	}
}

func fmtView(v peerView) string {
	if v.Since == nil {
		return v.Status + " since null"
	}
	return fmt.Sprintf("%s since %s", v.Status, *v.Since)
}
