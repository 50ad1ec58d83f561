package providers_test

import (
	"errors"
	"flag"
	"io"
	"path/filepath"
	"testing"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/providers"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
)

// The provider flags default to the providers' own constants.
func TestProviderFlagDefaultsAreTheProvidersConstants(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	(&providers.APNsFlags{}).Register(fs)
	(&providers.FCMFlags{}).Register(fs)
	(&providers.MiFlags{}).Register(fs)
	(&providers.HMSFlags{}).Register(fs)
	(&providers.WebPushFlags{}).Register(fs)
	for name, want := range map[string]any{
		"apns-production-url": apns.DefaultProductionURL, "apns-sandbox-url": apns.DefaultSandboxURL,
		"apns-conns": apns.DefaultConnsPerPool, "apns-streams-per-conn": apns.DefaultMaxStreamsPerConn,
		"apns-request-timeout": apns.DefaultRequestTimeout,
		"fcm-endpoint":         fcm.DefaultEndpoint, "fcm-concurrent-batches": fcm.DefaultMaxConcurrentBatches,
		"fcm-rate": fcm.DefaultRatePerMinute, "fcm-batch-timeout": fcm.DefaultBatchTimeout,
		"mi-batch": mi.DefaultBatchSize, "mi-conns": mi.DefaultMaxConnsPerHost, "mi-conn-max-age": mi.DefaultConnMaxAge,
		"mi-request-timeout": mi.DefaultRequestTimeout, "mi-feedback-poll": mi.DefaultPollInterval,
		"hms-url": "", "hms-token-url": "", "hms-batch": hms.MaxBatch, "hms-max-in-flight": hms.DefaultMaxInFlight,
		"hms-conns": hms.DefaultMaxConnsPerHost, "hms-request-timeout": hms.DefaultRequestTimeout,
		"hms-refresh-before": hms.DefaultRefreshBefore, "hms-max-ttl": hms.DefaultMaxTTL,
		"webpush-in-flight": webpush.DefaultMaxInFlight, "webpush-conns": 0,
		"webpush-request-timeout": webpush.DefaultRequestTimeout, "webpush-max-ttl": webpush.DefaultMaxTTL,
		"webpush-record-size": webpush.DefaultRecordSize,
	} {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("--%s not registered", name)
			continue
		}
		if got := f.Value.(flag.Getter).Get(); got != want {
			t.Errorf("--%s default %v, want %v", name, got, want)
		}
	}
}

// A provider setting that cannot work is a configuration error, wrapping
// config.ErrInvalid like every other.
func TestProviderConfigErrorsWrapErrInvalid(t *testing.T) {
	env := testEnv(t)
	apps := filepath.Join(t.TempDir(), "apps.yaml")
	writeFile(t, apps, "apps:\n  shop:\n    mi: {package_name: com.example.shop, app_secret: s3cret, region: china}\n")
	for _, tc := range []struct {
		name  string
		flags providers.Flags
		args  []string
		sc    config.SenderOptions
	}{
		{"apns url", &providers.APNsFlags{}, []string{"--apns-production-url=http://apple.example"}, config.SenderOptions{AppsFile: apps}},
		{"apns conns", &providers.APNsFlags{}, []string{"--apns-conns=-1"}, config.SenderOptions{AppsFile: apps}},
		{"fcm endpoint", &providers.FCMFlags{}, []string{"--fcm-endpoint=ftp://fcm.example"}, config.SenderOptions{AppsFile: apps}},
		{"mi batch", &providers.MiFlags{}, []string{"--mi-batch=-1"}, config.SenderOptions{AppsFile: apps}},
		{"ca file", &providers.MiFlags{}, []string{"--mi-ca-file=/nonexistent/ca.pem"}, config.SenderOptions{AppsFile: apps}},
		{"no apps file", &providers.MiFlags{}, nil, config.SenderOptions{}},
		{"hms url", &providers.HMSFlags{}, []string{"--hms-url=ftp://hms.example"}, config.SenderOptions{AppsFile: apps}},
		{"hms batch", &providers.HMSFlags{}, []string{"--hms-batch=1001"}, config.SenderOptions{AppsFile: apps}},
		{"hms ca file", &providers.HMSFlags{}, []string{"--hms-ca-file=/nonexistent/ca.pem"}, config.SenderOptions{AppsFile: apps}},
		{"hms no apps file", &providers.HMSFlags{}, nil, config.SenderOptions{}},
		{"webpush record size", &providers.WebPushFlags{}, []string{"--webpush-record-size=100"}, config.SenderOptions{AppsFile: apps}},
		{"webpush in flight", &providers.WebPushFlags{}, []string{"--webpush-in-flight=-1"}, config.SenderOptions{AppsFile: apps}},
		{"webpush no apps file", &providers.WebPushFlags{}, nil, config.SenderOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			tc.flags.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			_, err := tc.flags.Service(env, tc.sc)
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping config.ErrInvalid", err)
			}
		})
	}
}
