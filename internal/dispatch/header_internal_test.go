package dispatch

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A Push-Reason header is one line of at most 200 bytes of valid UTF-8: a
// CR or LF in a header value makes the whole dead letter unpublishable.
func TestHeaderValueIsOneShortLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"line one\nline two", "line one line two"},
		{"a\r\nb\tc\x00d\x7fe", "a  b c d e"},
		{strings.Repeat("x", 250), strings.Repeat("x", 200)},
		{strings.Repeat("x", 199) + "é", strings.Repeat("x", 199)},
	}
	for _, tc := range tests {
		got := headerValue(tc.in)
		if got != tc.want || len(got) > 200 || !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n") {
			t.Errorf("headerValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
