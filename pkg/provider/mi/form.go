package mi

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

// targetBody returns the message's fields plus key=v1,v2,… (comma-joined,
// as MiPush wants registration_id) or, with repeat, key=v1&key=v2.
func targetBody(m Message, key string, values []string, repeat bool) []byte {
	n := len(m.form) + len(values)*(len(key)+2)
	for _, v := range values {
		n += len(v) * 3 / 2
	}
	f := formBuilder{b: make([]byte, 0, n)}
	f.b = append(f.b, m.form...)
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

// appendEscape is url.QueryEscape appending to b.
func appendEscape(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}
