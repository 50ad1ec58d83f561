package mi

import "time"

// formBuilder appends application/x-www-form-urlencoded fields without the
// intermediate maps and sorting of url.Values: a 1000-regid body is built
// with one allocation.
type formBuilder struct{ b []byte }

func (f *formBuilder) add(key, value string) {
	if len(f.b) > 0 {
		f.b = append(f.b, '&')
	}
	f.b = appendEscape(f.b, key)
	f.b = append(f.b, '=')
	f.b = appendEscape(f.b, value)
}

// targetBody returns the message's fields as of BuildMessage plus
// key=v1,v2,… (comma-joined, as MiPush wants registration_id) or, with
// repeat, key=v1&key=v2.
func targetBody(m Message, key string, values []string, repeat bool) []byte {
	return targetBodyAt(m, m.built, key, values, repeat)
}

// targetBodyAt is targetBody for a request made at now.
func targetBodyAt(m Message, now time.Time, key string, values []string, repeat bool) []byte {
	fields := m.fieldsAt(now)
	// Room for a few escapes per value (base64 regids carry some '/', '+',
	// '='): exact sizing would cost a second pass; append copes with more.
	n := len(fields) + len(values)*(len(key)+8)
	for _, v := range values {
		n += len(v) + len(v)/4
	}
	f := formBuilder{b: make([]byte, 0, n)}
	f.b = append(f.b, fields...)
	if repeat {
		for _, v := range values {
			f.add(key, v)
		}
		return f.b
	}
	f.add(key, "")
	for i, v := range values {
		if i > 0 {
			f.b = append(f.b, "%2C"...)
		}
		f.b = appendEscape(f.b, v)
	}
	return f.b
}

// appendEscape is url.QueryEscape appending to b. Runs of bytes that need
// no escaping (most of a regid) are copied at once.
func appendEscape(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		if c == ' ' {
			b = append(b, '+')
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return append(b, s[start:]...)
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
