package mi

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// AppConfig is one MiPush app: its package and AppSecret, and the region
// its devices are registered in.
type AppConfig struct {
	// PackageName is the Android package, sent as restricted_package_name.
	PackageName string `json:"package_name"`
	// AppSecret is the secret inline; AppSecretFile names a file holding it
	// (surrounding whitespace is trimmed). Exactly one must be set.
	AppSecret     string `json:"app_secret,omitempty"`
	AppSecretFile string `json:"app_secret_file,omitempty"`
	// Region picks the host (china, europe, russia, india, other or a region
	// added in Config.Hosts). Default china.
	Region string `json:"region,omitempty"`
}

// Validate checks the fields that need no outside state.
func (a AppConfig) Validate() error {
	switch {
	case a.PackageName == "":
		return errors.New("package_name is required")
	case strings.ContainsAny(a.PackageName, " ,\t\r\n"):
		return fmt.Errorf("package_name %q must not contain spaces or commas", a.PackageName)
	case a.AppSecret == "" && a.AppSecretFile == "":
		return errors.New("app_secret or app_secret_file is required")
	case a.AppSecret != "" && a.AppSecretFile != "":
		return errors.New("set only one of app_secret and app_secret_file")
	case strings.ContainsAny(a.AppSecret, "\r\n"):
		return errors.New("app_secret must be one line")
	}
	return nil
}

// app is an AppConfig resolved against the Config: secret read, hosts picked.
type app struct {
	name         string
	pkg          string
	secret       string
	authHeader   string
	region       string
	host         string
	feedbackHost string
}

func (c *Config) resolveApp(name string, a AppConfig) (*app, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("mi app %q: %w", name, err)
	}
	secret := a.AppSecret
	if a.AppSecretFile != "" {
		b, err := os.ReadFile(a.AppSecretFile)
		if err != nil {
			return nil, fmt.Errorf("mi app %q: app_secret_file: %w", name, err)
		}
		secret = strings.TrimSpace(string(b))
		if secret == "" || strings.ContainsAny(secret, "\r\n") {
			return nil, fmt.Errorf("mi app %q: app_secret_file %s: want one non-empty line", name, a.AppSecretFile)
		}
	}
	region := a.Region
	if region == "" {
		region = RegionChina
	}
	host, ok := c.Hosts[region]
	if !ok {
		return nil, fmt.Errorf("mi app %q: region %q has no host (known: china, europe, russia, india, other, or add it to Config.Hosts)", name, region)
	}
	return &app{
		name: name, pkg: a.PackageName, secret: secret, authHeader: "key=" + secret,
		region: region, host: strings.TrimRight(host, "/"),
		feedbackHost: strings.TrimRight(c.FeedbackHosts[region], "/"),
	}, nil
}
