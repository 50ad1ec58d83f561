package registry

import (
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// The registry's contract lives in pkg/registryapi (usable from other
// modules, documented in docs/CONTRACT.md). These aliases keep in-module
// callers of this package compiling; new code should use registryapi.

// Service identity and subjects.
const (
	ServiceName   = registryapi.ServiceName
	SubjectPrefix = registryapi.SubjectPrefix

	VerbRegister    = registryapi.VerbRegister
	VerbUnregister  = registryapi.VerbUnregister
	VerbGet         = registryapi.VerbGet
	VerbUpdateTags  = registryapi.VerbUpdateTags
	VerbListByAlias = registryapi.VerbListByAlias
	VerbListByTag   = registryapi.VerbListByTag
	VerbStats       = registryapi.VerbStats
	VerbStatsAll    = registryapi.VerbStatsAll

	CodeBadRequest = registryapi.CodeBadRequest
	CodeForbidden  = registryapi.CodeForbidden
	CodeNotFound   = registryapi.CodeNotFound
	CodeConflict   = registryapi.CodeConflict
	CodeInternal   = registryapi.CodeInternal
	CodeTimeout    = registryapi.CodeTimeout
)

// ServiceVersion is the version the service announces.
const ServiceVersion = registryapi.ServiceVersion

// Verbs lists the per-app endpoints in the order the service adds them.
var Verbs = registryapi.Verbs

// Functions of the contract.
var (
	Subject     = registryapi.Subject
	SubjectApp  = registryapi.SubjectApp
	ClientName  = registryapi.ClientName
	InboxPrefix = registryapi.InboxPrefix
	NewClient   = registryapi.NewClient
)

// Sentinels of the contract.
var (
	ErrBadRequest = registryapi.ErrBadRequest
	ErrForbidden  = registryapi.ErrForbidden
	ErrNotFound   = registryapi.ErrNotFound
	ErrConflict   = registryapi.ErrConflict
	ErrServer     = registryapi.ErrServer
)

// Types of the contract.
type (
	Client             = registryapi.Client
	Error              = registryapi.Error
	DeviceRef          = registryapi.DeviceRef
	RegisterRequest    = registryapi.RegisterRequest
	UnregisterRequest  = registryapi.UnregisterRequest
	UnregisterResponse = registryapi.UnregisterResponse
	GetRequest         = registryapi.GetRequest
	UpdateTagsRequest  = registryapi.UpdateTagsRequest
	DeviceResponse     = registryapi.DeviceResponse
	Device             = registryapi.Device
	ListByAliasRequest = registryapi.ListByAliasRequest
	ListByTagRequest   = registryapi.ListByTagRequest
	Paging             = registryapi.Paging
	ListResponse       = registryapi.ListResponse
	StatsRequest       = registryapi.StatsRequest
	StatsResponse      = registryapi.StatsResponse
	DeviceCount        = registryapi.DeviceCount
)

// deviceFrom maps a stored record onto the wire.
func deviceFrom(r *tokens.Record) Device {
	return Device{
		DeviceRef: DeviceRef{App: r.App, Platform: r.Platform, Token: r.Token},
		State:     string(r.State), Alias: r.Alias, Tags: r.Tags, Locale: r.Locale, Attributes: r.Attributes,
		Reason: r.Reason, InvalidAt: r.InvalidAt, ReplacedBy: r.ReplacedBy, RegisteredAt: r.RegisteredAt,
		LastSuccess: r.LastSuccess, UpdatedAt: r.UpdatedAt,
	}
}

// countsFrom maps stored counts onto the wire.
func countsFrom(st tokens.Stats) []DeviceCount {
	out := make([]DeviceCount, 0, len(st))
	for _, c := range st {
		out = append(out, DeviceCount{App: c.App, Platform: c.Platform, State: string(c.State), Devices: c.Devices})
	}
	return out
}
