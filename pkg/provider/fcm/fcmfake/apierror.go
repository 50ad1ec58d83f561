package fcmfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Detail type URLs of the Google API error shape.
const (
	typeFcmError   = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
	typeBadRequest = "type.googleapis.com/google.rpc.BadRequest"
)

// Messages FCM uses for the answers the fake reproduces.
const (
	msgInvalidToken  = "The registration token is not a valid FCM registration token"
	msgNotFound      = "Requested entity was not found."
	msgSenderID      = "SenderId mismatch"
	msgQuota         = "Quota exceeded for quota metric 'Messages' of service 'fcm.googleapis.com'."
	msgUnavailable   = "The service is currently unavailable."
	msgInternal      = "Internal error encountered."
	msgThirdPartyErr = "Auth error from APNS or Web Push Service"
	msgUnauth        = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
)

// apiError is one Google API error answer.
type apiError struct {
	code       int    // HTTP status
	status     string // canonical status, e.g. NOT_FOUND
	message    string
	fcmCode    string // FcmError errorCode; empty: no FcmError detail
	field      string // google.rpc.BadRequest field violation; empty: none
	retryAfter time.Duration
}

type errorBody struct {
	Error struct {
		Code    int              `json:"code"`
		Message string           `json:"message"`
		Status  string           `json:"status"`
		Details []map[string]any `json:"details,omitempty"`
	} `json:"error"`
}

// writeError writes e as Google APIs do, with Retry-After in whole seconds.
func writeError(w http.ResponseWriter, e apiError) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Status = e.code, e.message, e.status
	if e.fcmCode != "" {
		b.Error.Details = append(b.Error.Details, map[string]any{"@type": typeFcmError, "errorCode": e.fcmCode})
	}
	if e.field != "" {
		b.Error.Details = append(b.Error.Details, map[string]any{
			"@type":           typeBadRequest,
			"fieldViolations": []map[string]string{{"field": e.field, "description": e.message}},
		})
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.retryAfter+time.Second-1)/time.Second), 10))
	}
	writeJSON(w, e.code, b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// badArgument is a 400 INVALID_ARGUMENT naming field. withFcm adds the
// FcmError detail, as FCM does for semantic (not syntactic) problems.
func badArgument(field, message string, withFcm bool) apiError {
	e := apiError{code: http.StatusBadRequest, status: "INVALID_ARGUMENT", message: message, field: field}
	if withFcm {
		e.fcmCode = "INVALID_ARGUMENT"
	}
	return e
}

var (
	errInvalidToken = apiError{code: http.StatusBadRequest, status: "INVALID_ARGUMENT", message: msgInvalidToken, fcmCode: "INVALID_ARGUMENT"}
	errUnregistered = apiError{code: http.StatusNotFound, status: "NOT_FOUND", message: msgNotFound, fcmCode: "UNREGISTERED"}
	errSenderID     = apiError{code: http.StatusForbidden, status: "PERMISSION_DENIED", message: msgSenderID, fcmCode: "SENDER_ID_MISMATCH"}
	errUnauth       = apiError{code: http.StatusUnauthorized, status: "UNAUTHENTICATED", message: msgUnauth}
	errNoProject    = apiError{code: http.StatusNotFound, status: "NOT_FOUND", message: msgNotFound}
)

func errQuota(retryAfter time.Duration) apiError {
	return apiError{code: http.StatusTooManyRequests, status: "RESOURCE_EXHAUSTED", message: msgQuota, fcmCode: "QUOTA_EXCEEDED", retryAfter: retryAfter}
}

func errDenied(project string) apiError {
	return apiError{code: http.StatusForbidden, status: "PERMISSION_DENIED",
		message: "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/" + project + "' (or it may not exist)."}
}
