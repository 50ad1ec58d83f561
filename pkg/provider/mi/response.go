package mi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Response is a MiPush answer body:
//
//	{"result":"ok","code":0,"description":"成功","info":"Received push messages for 1 REGID",
//	 "trace_id":"Xlm…","data":{"id":"alm…","bad_regids":"r1,r2","day_quota":"50000","day_acked":"3"}}
type Response struct {
	// HTTPStatus is the status the answer came with (MiPush errors come as 200).
	HTTPStatus  int    `json:"-"`
	Result      string `json:"result"`
	Code        int    `json:"code"`
	Description string `json:"description,omitempty"`
	Reason      string `json:"reason,omitempty"`
	TraceID     string `json:"trace_id,omitempty"`
	Info        string `json:"info,omitempty"`
	Data        ResponseData
}

// ResponseData is the "data" object of an answer.
type ResponseData struct {
	// ID is the message id of a send.
	ID string
	// BadRegIDs is the invalid subset of a regid send ("bad_regids").
	BadRegIDs []string
	// DayQuota and DayAcked report the app's daily quota use, when given.
	DayQuota, DayAcked string
	// List is the feedback API's list of invalid regids.
	List []string
}

// wireResponse is the decoding shape: code must be present, and fields that
// public samples show as strings or numbers (or lists as strings or arrays)
// accept either.
type wireResponse struct {
	Result      string   `json:"result"`
	Code        *flexInt `json:"code"`
	Description string   `json:"description"`
	Reason      string   `json:"reason"`
	TraceID     string   `json:"trace_id"`
	Info        string   `json:"info"`
	Data        optData  `json:"data"`
}

// optData decodes "data" when it is an object (as on every documented
// answer) and ignores any other shape.
type optData struct{ wireData }

func (d *optData) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	return json.Unmarshal(b, &d.wireData)
}

type wireData struct {
	ID        flexString `json:"id"`
	BadRegIDs flexList   `json:"bad_regids"`
	DayQuota  flexString `json:"day_quota"`
	DayAcked  flexString `json:"day_acked"`
	List      flexList   `json:"list"`
}

// parseResponse decodes an answer body. It fails (wrapping errBadAnswer) on
// an empty body, non-JSON, or a body without "code": such an answer proves
// nothing about delivery.
func parseResponse(status int, body []byte) (*Response, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", errBadAnswer)
	}
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadAnswer, err)
	}
	if w.Code == nil {
		return nil, fmt.Errorf("%w: no code", errBadAnswer)
	}
	wd := w.Data.wireData
	return &Response{
		HTTPStatus: status, Result: w.Result, Code: int(*w.Code), Description: w.Description,
		Reason: w.Reason, TraceID: w.TraceID, Info: w.Info,
		Data: ResponseData{ID: string(wd.ID), BadRegIDs: wd.BadRegIDs, DayQuota: string(wd.DayQuota),
			DayAcked: string(wd.DayAcked), List: wd.List},
	}, nil
}

// flexInt accepts 20301 and "20301".
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("code %s is not an integer", b)
	}
	*f = flexInt(n)
	return nil
}

// flexString accepts a string or a number, kept as text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	*f = flexString(b)
	return nil
}

// flexList accepts "a,b" (MiPush's bad_regids) or ["a","b"].
type flexList []string

func (f *flexList) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '[':
		var l []string
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*f = l
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*f = splitList(s)
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	out := make([]string, 0, strings.Count(s, ",")+1)
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
