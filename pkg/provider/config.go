package provider

import (
	"fmt"
	"net/url"
)

// CheckHTTPURL reports whether s is an absolute http or https URL with a
// host: a provider's configured endpoint.
func CheckHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%q: scheme must be https (or http)", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	return nil
}

// Negative returns the name of a negative value of fields (config field
// name → value), or "" when none is: the check of a provider's limits and
// durations, where zero takes the default.
func Negative(fields map[string]int64) string {
	for name, v := range fields {
		if v < 0 {
			return name
		}
	}
	return ""
}
