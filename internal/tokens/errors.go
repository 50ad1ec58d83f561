package tokens

import "errors"

// Sentinel errors of the registry; match them with errors.Is. ErrNotFound
// (a token with no record) is declared with the Store.
var (
	// ErrInvalidDevice: a registration or query breaks a rule of the
	// registry (unknown platform, empty token, alias with spaces, ...). The
	// wrapped message names the field.
	ErrInvalidDevice = errors.New("invalid device")
	// ErrInvalidCursor: a list cursor that this registry did not hand out.
	ErrInvalidCursor = errors.New("invalid list cursor")
	// ErrConflict: too many concurrent writers changed the same record; the
	// write was given up and may be retried.
	ErrConflict = errors.New("too many conflicting writers")
	// ErrIndex: the record was written but its alias or tag index entries
	// could not be brought in line; registering the device again repairs them.
	ErrIndex = errors.New("alias/tag index not updated")
)
