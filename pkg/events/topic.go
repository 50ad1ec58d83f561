package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Topic is a provider-side audience: the provider, not the registry, knows
// its devices. One of Topic, Condition or All is set:
//
//	{"platform":"fcm","topic":"news"}                            FCM HTTP v1 message.topic
//	{"platform":"fcm","condition":"'a' in topics && 'b' in topics"} FCM HTTP v1 message.condition
//	{"platform":"mi","topic":"news"}                             MiPush /v3/message/topic
//	{"platform":"mi","all":true}                                 MiPush /v3/message/all (every device of the app)
//
// APNs has no topics. A topic send has one outcome, reported in feedback
// under the topic's key (Key) in place of a device token.
type Topic struct {
	Platform  Platform `json:"platform"`
	Topic     string   `json:"topic,omitempty"`
	Condition string   `json:"condition,omitempty"`
	All       bool     `json:"all,omitempty"`
}

// Topic keys: what feedback names in its token field for a topic outcome.
// They can never be device tokens: the registry refuses to register a token
// shaped like one (IsTopicKey), and token state (invalidation, suppression,
// last success) is never written for one.
const (
	TopicKeyPrefix     = "topic:"
	ConditionKeyPrefix = "condition:"
	BroadcastKey       = "broadcast:all"
)

// Key is the topic's feedback token: "topic:<name>" for a topic,
// "condition:<first 16 hex digits of the SHA-256 of the condition>" for an
// FCM condition (a condition holds spaces and quotes, which a feedback
// token may not), "broadcast:all" for MiPush's all-devices send.
func (t Topic) Key() string {
	switch {
	case t.All:
		return BroadcastKey
	case t.Condition != "":
		sum := sha256.Sum256([]byte(t.Condition))
		return ConditionKeyPrefix + hex.EncodeToString(sum[:8])
	}
	return TopicKeyPrefix + t.Topic
}

// IsTopicKey reports whether token is a topic key rather than a device
// token. No provider's device token has this shape: APNs tokens are hex,
// FCM tokens start with an 11- or 22-character instance id before their
// first ':', MiPush regids are base64.
func IsTopicKey(token string) bool {
	return token == BroadcastKey || strings.HasPrefix(token, TopicKeyPrefix) || strings.HasPrefix(token, ConditionKeyPrefix)
}

// MaxTopics caps the topic targets of one intent.
const MaxTopics = 100

// FCMMaxTopicPayload is FCM's size limit of a message to a topic (keys and
// values of notification and data): 2048 bytes, half the 4096 of a message
// to a token or a condition.
const FCMMaxTopicPayload = 2048

var (
	// fcmTopicPattern is FCM's topic name rule (the Admin SDKs' and the
	// API's: [a-zA-Z0-9-_.~%]+), bounded.
	fcmTopicPattern = regexp.MustCompile(`^[a-zA-Z0-9_.~%-]{1,900}$`)
	// miTopicPattern keeps a MiPush topic usable as a form value and in a
	// feedback token: no white space, control characters or commas.
	miTopicPattern = regexp.MustCompile(`^[^\s\p{Z}\p{Cc},]{1,128}$`)
)

// fcmMaxConditionTopics is the most topics an FCM condition may name.
const fcmMaxConditionTopics = 5

func (t *Targets) validateTopics() error {
	if len(t.Topics) > MaxTopics {
		return invalid("targets.topics", "%d topics exceed the limit of %d per intent", len(t.Topics), MaxTopics)
	}
	seen := map[string]int{}
	for i, tp := range t.Topics {
		field := fmt.Sprintf("targets.topics[%d]", i)
		if err := tp.validate(field); err != nil {
			return err
		}
		k := string(tp.Platform) + "/" + tp.Key()
		if j, dup := seen[k]; dup {
			return invalid(field, "repeats targets.topics[%d]", j)
		}
		seen[k] = i
	}
	return nil
}

func (tp Topic) validate(field string) error {
	set := 0
	for _, b := range []bool{tp.Topic != "", tp.Condition != "", tp.All} {
		if b {
			set++
		}
	}
	switch {
	case tp.Platform == "":
		return invalid(field+".platform", "is required (fcm or mi)")
	case tp.Platform == APNs:
		return invalid(field+".platform", "APNs has no topics: reach APNs devices by tokens, alias, tag or all")
	case tp.Platform != FCM && tp.Platform != Mi:
		return invalid(field+".platform", "unknown topic platform %q (want fcm or mi)", tp.Platform)
	case set != 1:
		return invalid(field, "set exactly one of topic, condition (fcm) or all (mi)")
	}
	switch tp.Platform {
	case FCM:
		switch {
		case tp.All:
			return invalid(field+".all", "FCM has no all-devices send: use a topic every instance subscribes to, or targets.all")
		case tp.Topic != "" && strings.HasPrefix(tp.Topic, "/topics/"):
			return invalid(field+".topic", "give the topic name without the /topics/ prefix")
		case tp.Topic != "" && !fcmTopicPattern.MatchString(tp.Topic):
			return invalid(field+".topic", "FCM topic names are 1-900 characters of A-Z a-z 0-9 - _ . ~ %%")
		case tp.Condition != "":
			if err := checkCondition(tp.Condition); err != nil {
				return invalid(field+".condition", "%v", err)
			}
		}
	case Mi:
		switch {
		case tp.Condition != "":
			return invalid(field+".condition", "conditions are FCM's: MiPush takes a topic or all")
		case tp.Topic != "" && !miTopicPattern.MatchString(tp.Topic):
			return invalid(field+".topic", "MiPush topic names here are 1-128 characters without white space, control characters or commas")
		}
	}
	return nil
}

// checkCondition parses an FCM condition: 'topic' in topics, combined with
// &&, || and ! and grouped with parentheses, naming at most five topics,
// as FCM requires (it answers INVALID_ARGUMENT otherwise).
func checkCondition(s string) error {
	if len(s) > 1024 {
		return fmt.Errorf("is %d bytes, longer than 1024", len(s))
	}
	toks, err := lexCondition(s)
	if err != nil {
		return err
	}
	p := condParser{toks: toks}
	if err := p.expr(); err != nil {
		return err
	}
	if p.pos != len(p.toks) {
		return fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	if p.topics > fcmMaxConditionTopics {
		return fmt.Errorf("names %d topics; FCM allows at most %d", p.topics, fcmMaxConditionTopics)
	}
	return nil
}

type condToken struct {
	kind byte // 't' topic atom, '(' ')' '!' '&' '|'
	text string
}

func lexCondition(s string) ([]condToken, error) {
	var out []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == '!':
			out = append(out, condToken{c, string(c)})
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			out = append(out, condToken{c, s[i : i+2]})
			i += 2
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated topic name at byte %d", i)
			}
			name := s[i+1 : i+1+end]
			if !fcmTopicPattern.MatchString(name) {
				return nil, fmt.Errorf("topic name %q: FCM topic names are A-Z a-z 0-9 - _ . ~ %%", name)
			}
			i += end + 2
			rest := strings.TrimLeft(s[i:], " \t")
			if !strings.HasPrefix(rest, "in") {
				return nil, fmt.Errorf("want \"'%s' in topics\"", name)
			}
			rest = strings.TrimLeft(rest[2:], " \t")
			if !strings.HasPrefix(rest, "topics") || len(rest) > 6 && isConditionWord(rest[6]) {
				return nil, fmt.Errorf("want \"'%s' in topics\"", name)
			}
			i = len(s) - len(rest) + 6
			out = append(out, condToken{'t', name})
		default:
			return nil, fmt.Errorf("unexpected %q at byte %d: want 'topic' in topics, &&, ||, ! or parentheses", c, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("is empty")
	}
	return out, nil
}

func isConditionWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// condParser is a recursive-descent check of
//
//	expr   = term { "||" term }
//	term   = factor { "&&" factor }
//	factor = "!" factor | "(" expr ")" | topic
type condParser struct {
	toks   []condToken
	pos    int
	topics int
	depth  int
}

func (p *condParser) peek() byte {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].kind
	}
	return 0
}

func (p *condParser) expr() error {
	if err := p.term(); err != nil {
		return err
	}
	for p.peek() == '|' {
		p.pos++
		if err := p.term(); err != nil {
			return err
		}
	}
	return nil
}

func (p *condParser) term() error {
	if err := p.factor(); err != nil {
		return err
	}
	for p.peek() == '&' {
		p.pos++
		if err := p.factor(); err != nil {
			return err
		}
	}
	return nil
}

func (p *condParser) factor() error {
	switch p.peek() {
	case '!':
		p.pos++
		return p.factor()
	case '(':
		if p.depth++; p.depth > 16 {
			return fmt.Errorf("nests parentheses too deep")
		}
		p.pos++
		if err := p.expr(); err != nil {
			return err
		}
		if p.peek() != ')' {
			return fmt.Errorf("missing )")
		}
		p.pos++
		p.depth--
		return nil
	case 't':
		p.pos++
		p.topics++
		return nil
	case 0:
		return fmt.Errorf("ends where a topic is expected")
	}
	return fmt.Errorf("unexpected %q where a topic is expected", p.toks[p.pos].text)
}

// fcmContentSize is what FCM counts against its message size limit, at
// least: title, body and data keys and values, non-string values as their
// JSON text (pkg/provider/fcm sends them so).
func fcmContentSize(n *Notification) int {
	size := len(n.Title) + len(n.Body)
	for k, v := range n.Data {
		size += len(k)
		if s, ok := v.(string); ok {
			size += len(s)
			continue
		}
		b, _ := jsonText(v)
		size += len(b)
	}
	return size
}

// jsonText encodes v as FCM's sender does: JSON without HTML escaping and
// without the trailing newline.
func jsonText(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// TopicKeys returns the feedback keys of topics, in order.
func TopicKeys(topics []Topic) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = t.Key()
	}
	return out
}
