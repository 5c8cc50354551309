package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// documentedServices is one NOTIFY_URLS entry for each service README
// documents, each with the parts its service keeps secret. Every secret
// holds "zq", which nothing else a node logs does.
var documentedServices = []struct {
	url     string
	secrets []string
}{
	{"telegram://111222333:AAHzqTelegramToken01@telegram?chats=@zqchat01", []string{"111222333", "AAHzqTelegramToken01", "zqchat01"}},
	{"ntfy://zqntfyuser:zqntfypass02@ntfy.zq.example/zqtopic02", []string{"zqntfyuser", "zqntfypass02", "zqtopic02"}},
	{"gotify://gotify.zq.example/AzqGotifyToken03", []string{"AzqGotifyToken03"}},
	{"matrix://zqmatrixuser:zqmatrixpass04@matrix.zq.example/?rooms=!zqroom04:matrix.zq.example", []string{"zqmatrixuser", "zqmatrixpass04", "zqroom04"}},
	{"teams://11111111-4444-4444-8444-cccccccccc05@22222222-4444-4444-8444-cccccccccc05/33333333012222222222333333333305/44444444-4444-4444-8444-cccccccccc05/V2ESyijzqTeamsExtra05?host=example.webhook.office.com",
		[]string{"11111111-4444", "22222222-4444", "33333333012222222222333333333305", "44444444-4444", "V2ESyijzqTeamsExtra05"}},
	{"pushover://shoutrrr:zqPushoverToken06@zqPushoverUserKey06/?devices=phone", []string{"zqPushoverToken06", "zqPushoverUserKey06"}},
	{"smtp://zqsmtpuser:zqsmtppass07@smtp.zq.example:587/?from=mesh@example.com&to=ops@example.com", []string{"zqsmtpuser", "zqsmtppass07"}},
	{"generic://hooks.zq.example/zqgenericpath08?template=json", []string{"zqgenericpath08"}},
	{"slack://hook:T0ZQSLACK-B0ZQSLACK9-zqSlackWebhookToken09abc@webhook", []string{"T0ZQSLACK", "B0ZQSLACK9", "zqSlackWebhookToken09abc"}},
	{"discord://zqDiscordToken10@123456789010", []string{"zqDiscordToken10", "123456789010"}},
	{"mattermost://zquser11@mattermost.zq.example/zqmattermosttoken11/zqchannel", []string{"zqmattermosttoken11"}},
	{"googlechat://chat.googleapis.com/v1/spaces/ZQSPACE12/messages?key=zqGoogleKey12&token=zqGoogleToken12", []string{"ZQSPACE12", "zqGoogleKey12", "zqGoogleToken12"}},
	{"rocketchat://zquser13@rocket.zq.example/zqRocketTokenA13/zqRocketTokenB13/zqchannel", []string{"zqRocketTokenA13", "zqRocketTokenB13"}},
	{"zulip://zqbot14%40zulip.zq.example:zqZulipKey14@zulip.zq.example?stream=foo&topic=bar", []string{"zqbot14", "zqZulipKey14"}},
	{"pagerduty://events.pagerduty.com/eb243592faa24ba2a5511afdf565c815", []string{"eb243592faa24ba2a5511afdf565c815"}},
	{"opsgenie://api.opsgenie.com/zqOpsgenieKey16", []string{"zqOpsgenieKey16"}},
	{"signal://zquser17:zqSignalPass17@signal.zq.example:8080/+1234567890/+0987654321", []string{"zquser17", "zqSignalPass17"}},
	{"bark://:zqBarkDeviceKey18@bark.zq.example/", []string{"zqBarkDeviceKey18"}},
	{"join://shoutrrr:zqJoinApiKey19@join/?devices=zqdevice", []string{"zqJoinApiKey19", "zqdevice"}},
	{"pushbullet://o.zqPushbulletToken20aaaaaaaaaaaaa/device", []string{"o.zqPushbulletToken20aaaaaaaaaaaaa"}},
	{"ifttt://zqIftttKey21/?events=zqevent21", []string{"zqIftttKey21", "zqevent21"}},
	{"lark://open.larksuite.com/zqLarkToken22?secret=zqLarkSecret22", []string{"zqLarkToken22", "zqLarkSecret22"}},
	{"wecom://zqWecomKey23", []string{"zqWecomKey23"}},
	{"notifiarr://zqNotifiarrKey24", []string{"zqNotifiarrKey24"}},
}

// Nodes whose network has no route out (no DNS server, no Telegram, no
// Slack) and every service README documents in NOTIFY_URLS: when a target
// goes down, each channel fails, logs it, counts it and tries again; none
// logs "message delivered", since nothing was. (Shoutrrr's Telegram took
// such a failure for a delivery.) And no line any node logs, at trace,
// holds a secret of any URL: each library quotes the URL it posted to in
// its own way.
func TestEveryDocumentedServiceFailsWithoutARouteAndLogsNoSecret(t *testing.T) {
	shareMachine(t, loadOf(3, 200*time.Millisecond))
	// A node takes at most 16 URLs: the services are shared out among
	// three, each sending its own messages.
	c := newNetwork(t, 3)
	urls := make([][]string, 3)
	var channels []string
	for i, s := range documentedServices {
		urls[i%3] = append(urls[i%3], s.url)
		channels = append(channels, s.url[:strings.Index(s.url, ":")])
	}
	// Nothing listens at the hub's port 9: the target is refused from
	// every node, and each node sends its 🔴.
	c.startEach(func(i int) []string {
		return []string{"NOTIFY_URLS=" + strings.Join(urls[i], "\n"), "ALERTS=node", "TARGETS=tcp://" + hubIP + ":9", "LOG_LEVEL=trace"}
	})

	// attempts returns the channels that have failed at a second attempt
	// of a message, and those that said they delivered one.
	attempts := func() (failedTwice, delivered []string) {
		for _, n := range c.nodes {
			for _, l := range n.logsMatching(map[string]any{"message": "delivery failed; will retry", "attempt": 2}) {
				failedTwice = append(failedTwice, fmt.Sprint(l["channel"]))
			}
			for _, l := range n.logsMatching(map[string]any{"message": "message delivered"}) {
				delivered = append(delivered, fmt.Sprint(l["channel"]))
			}
		}
		return failedTwice, delivered
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		failed, delivered := attempts()
		missing := slices.DeleteFunc(slices.Clone(channels), func(ch string) bool { return slices.Contains(failed, ch) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, channels %v have not failed a second attempt (delivered: %v)", missing, delivered)
		}
	}
	if _, delivered := attempts(); len(delivered) > 0 {
		t.Errorf("channels %v logged a delivery, with no route to any service", delivered)
	}
	// The failures are counted, by channel, on the node that sent.
	var metrics string
	for i := range c.nodes {
		if out, err := c.get(i, "/metrics"); err == nil {
			metrics += string(out)
		}
	}
	for _, ch := range channels {
		if !strings.Contains(metrics, `mesh_webhook_deliveries_total{channel="`+ch+`",result="retried"}`) {
			t.Errorf("no retried delivery counted for %s", ch)
		}
	}

	for _, n := range c.nodes {
		n.stop()
	}
	for _, n := range c.nodes {
		logs := n.stdout.String() + n.stderr.String()
		for _, s := range documentedServices {
			for _, secret := range s.secrets {
				if i := strings.Index(logs, secret); i >= 0 {
					t.Errorf("%s logged %q of %s: ...%s...", n.name, secret, s.url[:strings.Index(s.url, ":")], logs[max(0, i-200):min(len(logs), i+100)])
				}
			}
		}
	}
}
