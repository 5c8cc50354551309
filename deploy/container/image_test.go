package container

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// imageConfig is the part of `docker image inspect` users rely on.
type imageConfig struct {
	Size   int64
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		ExposedPorts map[string]struct{}
		Volumes      map[string]struct{}
		Healthcheck  struct{ Test []string }
	}
}

func TestTheOfflineImageIsSmallNonRootAndHealthChecked(t *testing.T) {
	image := offlineImage(t)
	var inspected []imageConfig
	if err := json.Unmarshal([]byte(mustDocker(t, "image", "inspect", image)), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	img := inspected[0]
	// 15.35 MB at 3f0e390: the binary, and Go's time zone database
	// (time/tzdata, 450 KB), which lets MAINTENANCE name a time zone in an
	// image that has no /usr/share/zoneinfo.
	if img.Size >= 16_000_000 {
		t.Errorf("the image is %d bytes, want under 16 MB", img.Size)
	}
	c := img.Config
	if uid, _, _ := strings.Cut(c.User, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER is %q, want a non-root user", c.User)
	}
	if !slices.Contains(c.Env, "STATE_FILE=/data/state.json") {
		t.Errorf("Env %v lacks STATE_FILE=/data/state.json", c.Env)
	}
	if _, ok := c.ExposedPorts["4000/tcp"]; !ok {
		t.Errorf("ExposedPorts %v lacks 4000/tcp", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes %v lacks /data", c.Volumes)
	}
	if !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/mesh", "healthcheck"}) {
		t.Errorf("HEALTHCHECK runs %v, want mesh healthcheck", c.Healthcheck.Test)
	}
	if !slices.Equal(c.Entrypoint, []string{"/mesh"}) {
		t.Errorf("ENTRYPOINT %v, want /mesh", c.Entrypoint)
	}

	// The filesystem: the binary, owned by root so the node cannot rewrite
	// it, and an empty /data the node's user owns, so that a new named
	// volume starts out writable.
	files := exportedFiles(t, image)
	mesh, ok := files["mesh"]
	if !ok || mesh.Uid != 0 || mesh.Mode&0o022 != 0 || mesh.Mode&0o111 == 0 {
		t.Errorf("/mesh is %+v, want an executable owned by root and writable by root only", mesh)
	}
	uid, _ := strconv.Atoi(strings.Split(c.User, ":")[0])
	if data, ok := files["data/"]; !ok || data.Typeflag != tar.TypeDir || data.Uid != uid {
		t.Errorf("/data is %+v, want a directory owned by uid %d", data, uid)
	}
	for name := range files {
		if strings.HasPrefix(name, "data/") && name != "data/" {
			t.Errorf("/data holds %s; it must start out empty", name)
		}
	}

	out, err := docker("run", "--rm", image, "--version")
	if err != nil || out != "mesh v0.0.0-container" {
		t.Errorf("mesh --version in the image: %q, %v; want the stamped version", out, err)
	}
}

// exportedFiles lists a container's filesystem made from image, by name
// without the leading slash.
func exportedFiles(t *testing.T, image string) map[string]*tar.Header {
	t.Helper()
	id := mustDocker(t, "create", image)
	defer docker("rm", "--volumes", id)
	cmd := exec.Command("docker", "export", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string]*tar.Header{}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "/")] = h
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return files
}
