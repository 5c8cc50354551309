// Package kubernetes holds Mesh's Kubernetes manifests; its test decodes them
// strictly with the Kubernetes API types, so that a typo fails the suite
// instead of a user's kubectl apply.
package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/dupunkto/mesh/config"
)

const manifest = "mesh.yaml"

// objects is what the manifest holds.
type objects struct {
	services     []corev1.Service
	statefulSets []appsv1.StatefulSet
}

// decode reads every document strictly: an unknown or misspelt field, a
// duplicate key, a wrong type or a kind this test doesn't know is an error.
func decode(data []byte) (objects, error) {
	var objs objects
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return objs, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return objs, err
		}
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Service":
			var s corev1.Service
			if err := strictly(doc, &s); err != nil {
				return objs, fmt.Errorf("Service: %w", err)
			}
			objs.services = append(objs.services, s)
		case "apps/v1 StatefulSet":
			var s appsv1.StatefulSet
			if err := strictly(doc, &s); err != nil {
				return objs, fmt.Errorf("StatefulSet: %w", err)
			}
			objs.statefulSets = append(objs.statefulSets, s)
		default:
			return objs, fmt.Errorf("unexpected %q of apiVersion %q", tm.Kind, tm.APIVersion)
		}
	}
}

// strictly decodes one YAML document the way the API server's strict field
// validation does: duplicate keys, unknown fields and fields in the wrong
// case ("mountpath") are errors. (sigs.k8s.io/yaml's own UnmarshalStrict
// goes through encoding/json, which matches names regardless of case.)
func strictly(doc []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, into, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

func load(t *testing.T) (corev1.Service, appsv1.StatefulSet) {
	t.Helper()
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(data)
	if err != nil {
		t.Fatalf("%s: %v", manifest, err)
	}
	if len(objs.services) != 1 || len(objs.statefulSets) != 1 {
		t.Fatalf("%s holds %d Services and %d StatefulSets, want one of each", manifest, len(objs.services), len(objs.statefulSets))
	}
	return objs.services[0], objs.statefulSets[0]
}

func TestManifestDecodesStrictly(t *testing.T) {
	load(t)
}

// The strict decoding above is only worth having if a typo fails it.
func TestATypoInTheManifestFailsToDecode(t *testing.T) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, typo := range []struct{ from, to string }{
		{"replicas: 3", "replica: 3"},
		{"mountPath: /data", "mountpath: /data"},
		{"clusterIP: None", "clusterIp: None"},
		{"containerPort: 4000", "containerPort: \"4000\""},
		{"apiVersion: apps/v1", "apiVersion: apps/v1beta9"},
	} {
		if !bytes.Contains(data, []byte(typo.from)) {
			t.Fatalf("the manifest no longer holds %q; update this test", typo.from)
		}
		if _, err := decode(bytes.Replace(data, []byte(typo.from), []byte(typo.to), 1)); err == nil {
			t.Errorf("%q instead of %q decoded without an error", typo.to, typo.from)
		}
	}
}

func TestTheHeadlessServiceSelectsTheStatefulSetsPods(t *testing.T) {
	svc, sts := load(t)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the Service's clusterIP is %q, want None: per-pod DNS names need a headless Service", svc.Spec.ClusterIP)
	}
	if sts.Spec.ServiceName != svc.Name {
		t.Errorf("the StatefulSet's serviceName is %q, want the Service %q", sts.Spec.ServiceName, svc.Name)
	}
	podLabels := labels.Set(sts.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the StatefulSet's selector %v does not match its pods' labels %v (%v)", sts.Spec.Selector, podLabels, err)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("the Service's selector %v does not match the pods' labels %v", svc.Spec.Selector, podLabels)
	}
	c := meshContainer(t, sts)
	for _, p := range svc.Spec.Ports {
		if containerPort(t, c, p.TargetPort.String()) != p.Port {
			t.Errorf("the Service's port %d does not reach the container's port %s", p.Port, p.TargetPort.String())
		}
	}
}

// Every pod, configured as Kubernetes would configure it, loads a valid
// config whose NODE is its own DNS name and whose peers are the other pods.
func TestEveryPodMonitorsEveryOtherPodByItsStableName(t *testing.T) {
	svc, sts := load(t)
	c := meshContainer(t, sts)
	replicas := int(*sts.Spec.Replicas)
	if replicas < 3 {
		t.Errorf("%d replicas: a peer's outage needs at least two others to see it", replicas)
	}
	port := containerPort(t, c, "http")
	dnsName := func(i int) string {
		return net.JoinHostPort(fmt.Sprintf("%s-%d.%s", sts.Name, i, svc.Name), strconv.Itoa(int(port)))
	}
	for i := range replicas {
		pod := fmt.Sprintf("%s-%d", sts.Name, i)
		env := podEnv(t, c, pod)
		cfg, err := config.Load(nil, func(k string) string { return env[k] }, func() (string, error) { return pod, nil }, io.Discard)
		if err != nil {
			t.Fatalf("pod %s: %v", pod, err)
		}
		if cfg.Node != dnsName(i) {
			t.Errorf("pod %s: NODE=%q, want its stable DNS name %q", pod, cfg.Node, dnsName(i))
		}
		var peers []string
		for _, p := range cfg.Peers {
			peers = append(peers, p.Name)
		}
		var want []string
		for j := range replicas {
			if j != i {
				want = append(want, dnsName(j))
			}
		}
		if strings.Join(peers, ",") != strings.Join(want, ",") {
			t.Errorf("pod %s monitors %v, want the other pods %v", pod, peers, want)
		}
		if _, p, _ := net.SplitHostPort(cfg.ListenAddr); p != strconv.Itoa(int(port)) {
			t.Errorf("pod %s listens on %s, not on the container port %d", pod, cfg.ListenAddr, port)
		}
		if cfg.StateFile == "" || !mountedFromClaim(sts, c, path.Dir(cfg.StateFile)) {
			t.Errorf("pod %s: STATE_FILE=%q is not on a volume of its own", pod, cfg.StateFile)
		}
	}
}

func TestPodsRunAsTheImagesUserAndArePingedForHealth(t *testing.T) {
	_, sts := load(t)
	pod := sts.Spec.Template.Spec
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, runAsUser 65532 (the image's USER) and fsGroup 65532 (so it can write its volume)", sc)
	}
	c := meshContainer(t, sts)
	for name, probe := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != "/ping" || containerPort(t, c, probe.HTTPGet.Port.String()) == 0 {
			t.Errorf("the %s probe is %+v, want GET /ping on the container's port", name, probe)
		}
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("no memory limit: a node's memory must be bounded")
	}
}

func meshContainer(t *testing.T, sts appsv1.StatefulSet) corev1.Container {
	t.Helper()
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == "mesh" {
			return c
		}
	}
	t.Fatal("the StatefulSet has no container named mesh")
	return corev1.Container{}
}

// containerPort resolves a port by name or number; 0 if the container has none.
func containerPort(t *testing.T, c corev1.Container, nameOrNumber string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == nameOrNumber || strconv.Itoa(int(p.ContainerPort)) == nameOrNumber {
			return p.ContainerPort
		}
	}
	return 0
}

var reference = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// podEnv is the container's environment as the kubelet would give it to
// pod: field references resolved, $(VAR) expanded from earlier variables,
// secrets given stand-in values.
func podEnv(t *testing.T, c corev1.Container, pod string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = reference.ReplaceAllStringFunc(e.Value, func(ref string) string {
				if v, ok := env[ref[2:len(ref)-1]]; ok {
					return v
				}
				return ref // Kubernetes leaves an unknown reference as it is
			})
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = pod
		case e.ValueFrom.SecretKeyRef != nil && e.Name == "RELAY_SECRET":
			env[e.Name] = "stand-in-secret"
		case e.ValueFrom.SecretKeyRef != nil && e.Name == "WEBHOOK_URL":
			env[e.Name] = "https://discord.com/api/webhooks/1/stand-in"
		default:
			t.Fatalf("env %s: this test does not know how to resolve %+v", e.Name, e.ValueFrom)
		}
	}
	return env
}

// mountedFromClaim reports whether dir is the mount of one of the
// StatefulSet's volume claim templates: a volume each pod keeps.
func mountedFromClaim(sts appsv1.StatefulSet, c corev1.Container, dir string) bool {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) != path.Clean(dir) {
			continue
		}
		for _, claim := range sts.Spec.VolumeClaimTemplates {
			if claim.Name == m.Name {
				return true
			}
		}
	}
	return false
}
