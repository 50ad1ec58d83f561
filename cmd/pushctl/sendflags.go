package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// targetFlags are pushctl send's flags for the targets and content beyond
// one token, an alias or a tag: every device (--all), a platform filter,
// provider topics, silent pushes with data, and confirmed delivery.
type targetFlags struct {
	all          bool
	platforms    []events.Platform
	topics       []events.Topic
	silent       bool
	data         map[string]any
	within       time.Duration
	resendEvery  time.Duration
	confirmGiven bool
}

func registerTargetFlags(fs *flag.FlagSet) *targetFlags {
	f := &targetFlags{}
	fs.BoolVar(&f.all, "all", false, "send to every registered device of the app")
	fs.Func("platforms", "only the devices of these platforms, comma-separated (with --alias, --tag or --all)", func(s string) error {
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.platforms = append(f.platforms, events.Platform(p))
			}
		}
		return nil
	})
	fs.Func("topic", "a provider topic, PLATFORM:NAME (fcm:news, mi:news; repeatable)", func(s string) error {
		p, name, ok := strings.Cut(s, ":")
		if !ok || name == "" {
			return fmt.Errorf("want PLATFORM:NAME (fcm:news), got %q", s)
		}
		f.topics = append(f.topics, events.Topic{Platform: events.Platform(p), Topic: name})
		return nil
	})
	fs.Func("condition", "an FCM topic condition (\"'a' in topics && 'b' in topics\"; repeatable)", func(s string) error {
		f.topics = append(f.topics, events.Topic{Platform: events.FCM, Condition: s})
		return nil
	})
	fs.Func("broadcast", "a provider's all-devices broadcast: mi (repeatable)", func(s string) error {
		f.topics = append(f.topics, events.Topic{Platform: events.Platform(s), All: true})
		return nil
	})
	fs.BoolVar(&f.silent, "silent", false, "a silent (data-only, never shown) push: needs --data")
	fs.Func("data", "a data entry KEY=VALUE for the app (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		if f.data == nil {
			f.data = map[string]any{}
		}
		f.data[k] = v
		return nil
	})
	fs.Func("confirm-within", "ask each device to confirm within this long (confirmed delivery)", func(s string) error {
		d, err := time.ParseDuration(s)
		f.within, f.confirmGiven = d, true
		return err
	})
	fs.DurationVar(&f.resendEvery, "resend-every", 0, "with --confirm-within: re-send to unconfirmed devices this often (0: never)")
	return f
}

// apply sets f's targets and content on in; the intent's own validation
// then says what does not fit together.
func (f *targetFlags) apply(in *events.Intent) error {
	in.Targets.All = f.all
	in.Targets.Platforms = f.platforms
	if f.topics != nil {
		in.Targets.Topics = f.topics
	}
	in.Notification.Silent = f.silent
	if f.data != nil {
		in.Notification.Data = f.data
	}
	switch {
	case f.confirmGiven:
		in.Confirm = &events.Confirm{Within: events.Duration(f.within), ResendEvery: events.Duration(f.resendEvery)}
	case f.resendEvery != 0:
		return usagef("send: --resend-every needs --confirm-within")
	}
	return nil
}
