package config

import (
	"strings"
	"testing"
)

// Each service's library quotes the URL it posted to in its own way; a
// failure's text keeps none of what the service's URL keeps secret, and
// still says where it failed.
func TestRedactTakesWhatEachServiceKeepsSecret(t *testing.T) {
	cases := []struct {
		raw     string
		text    string // the library's error, as Shoutrrr v0.13.2 words it
		secrets []string
		kept    []string
	}{
		{"slack://hook:T0ZQSLACK-B0ZQSLACK9-zqSlackWebhookToken09abc@webhook",
			`failed to send slack notification: failed to invoke webhook: Post "https://hooks.slack.com/services/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": dial tcp: lookup hooks.slack.com: no such host`,
			[]string{"T0ZQSLACK", "B0ZQSLACK9", "zqSlackWebhookToken09abc"}, []string{"invoke webhook", "lookup hooks.slack.com", "https://hooks.slack.com/…"}},
		{"teams://11111111-4444-4444-8444-cccccccccc05@22222222-4444-4444-8444-cccccccccc05/33333333012222222222333333333305/44444444-4444-4444-8444-cccccccccc05/V2ESyijzqTeamsExtra05?host=example.webhook.office.com",
			`making HTTP POST request: Post "https://example.webhook.office.com/webhookb2/11111111-4444-4444-8444-cccccccccc05@22222222-4444-4444-8444-cccccccccc05/IncomingWebhook/33333333012222222222333333333305/44444444-4444-4444-8444-cccccccccc05/V2ESyijzqTeamsExtra05": dial tcp: lookup example.webhook.office.com: no such host (tenant 22222222-4444-4444-8444-cccccccccc05)`,
			[]string{"11111111-4444", "22222222-4444", "33333333012222222222333333333305", "44444444-4444", "V2ESyijzqTeamsExtra05"}, []string{"lookup example.webhook.office.com"}},
		{"ifttt://zqIftttKey21/?events=zqevent",
			`sending HTTP request to IFTTT webhook: Post "https://maker.ifttt.com/trigger/zqevent/with/key/zqIftttKey21": dial tcp: lookup maker.ifttt.com: no such host; key zqIftttKey21`,
			[]string{"zqIftttKey21", "zqevent"}, []string{"IFTTT webhook", "lookup maker.ifttt.com"}},
		{"wecom://zqWecomKey23", `making HTTP request: Post "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=zqWecomKey23": timeout`,
			[]string{"zqWecomKey23"}, []string{"https://qyapi.weixin.qq.com/…"}},
		{"notifiarr://zqNotifiarrKey24", `Post "https://notifiarr.com/api/v1/notification/passthrough/zqNotifiarrKey24": EOF`,
			[]string{"zqNotifiarrKey24"}, []string{"notifiarr.com"}},
		{"pushover://shoutrrr:zqPushoverToken06@zqPushoverUserKey06/?devices=phone", `invalid user key zqPushoverUserKey06 or token zqPushoverToken06 for shoutrrr`,
			[]string{"zqPushoverUserKey06", "zqPushoverToken06"}, []string{"for shoutrrr"}},
		{"discord://zqDiscordToken10@123456789010", `Post "https://discord.com/api/webhooks/123456789010/zqDiscordToken10": 401; webhook 123456789010`,
			[]string{"zqDiscordToken10", "123456789010"}, []string{"https://discord.com/…"}},
		{"ntfy://zqntfyuser:zqntfypass02@ntfy.zq.example/zqtopic02", `sending POST request to "https://zqntfyuser:zqntfypass02@ntfy.zq.example/zqtopic02": topic zqtopic02 for zqntfyuser`,
			[]string{"zqntfypass02", "zqtopic02", "zqntfyuser"}, []string{"ntfy.zq.example"}},
		{"googlechat://chat.googleapis.com/v1/spaces/ZQSPACE12/messages?key=zqGoogleKey12&token=zqGoogleToken12", `Post "https://chat.googleapis.com/v1/spaces/ZQSPACE12/messages?key=zqGoogleKey12&token=zqGoogleToken12": refused`,
			[]string{"ZQSPACE12", "zqGoogleKey12", "zqGoogleToken12"}, []string{"chat.googleapis.com"}},
		{"gotify://gotify.zq.example/AzqGotifyToken03", `invalid gotify token: "AzqGotifyToken03"`, []string{"AzqGotifyToken03"}, []string{"invalid gotify token"}},
		{"zulip://zqbot14%40zulip.zq.example:zqZulipKey14@zulip.zq.example?stream=foo&topic=bar", `auth failed for zqbot14@zulip.zq.example with zqZulipKey14`,
			[]string{"zqbot14@", "zqZulipKey14"}, []string{"auth failed for"}},
	}
	for _, tc := range cases {
		got := Redact(tc.text, tc.raw)
		for _, s := range tc.secrets {
			if strings.Contains(got, s) {
				t.Errorf("%s: %q left in %q", tc.raw[:strings.Index(tc.raw, ":")], s, got)
			}
		}
		for _, k := range tc.kept {
			if !strings.Contains(got, k) {
				t.Errorf("%s: %q gone from %q: over-redacted", tc.raw[:strings.Index(tc.raw, ":")], k, got)
			}
		}
	}
}

// A short secret goes as a word of its own, not out of other words; a long
// one wherever it stands.
func TestRedactLeavesOtherWordsWhole(t *testing.T) {
	got := Redact("webhook failed for user ops1 at hookbot; token abcdefghijkl0123 in xabcdefghijkl0123x", "generic://ops1:abcdefghijkl0123@h.example/hook")
	want := "webhook failed for user *** at hookbot; token *** in x***x"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// A bad URL setting is quoted to say what is wrong with it, never with
// the user and password it holds.
func TestABadURLSettingIsNeverEchoedWithItsPassword(t *testing.T) {
	for _, env := range []map[string]string{
		{"PEERS": "http://u:hunter2@a.example/path"},
		{"PEERS": "a.example, u:hunter2@b.example:99999"},
		{"PEERS": "a.example", "CONNECTIVITY_URL": "ftp://u:hunter2@outside.example"},
		{"PEERS": "a.example", "AGGREGATOR_URL": "http://u:hunter2@"},
		{"PEERS": "a.example", "AGGREGATOR_URL": "http://u:hunt@er2@host.example/%zz"},
	} {
		_, err := load(t, env)
		if err == nil {
			t.Fatalf("%v loaded", env)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "er2") || !strings.Contains(err.Error(), "***@") {
			t.Errorf("%v: %v", env, err)
		}
	}
}
