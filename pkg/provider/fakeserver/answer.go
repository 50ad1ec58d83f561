package fakeserver

import (
	"encoding/json"
	"net/http"
)

// WriteJSON answers status with v as JSON ("application/json;charset=UTF-8",
// as Push Kit and MiPush send it); a v that cannot be encoded answers 500.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
