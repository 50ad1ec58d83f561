package webpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Info strings of RFC 8291 section 3.4 and RFC 8188 section 2.2-2.3.
const (
	keyInfoPrefix = "WebPush: info\x00"
	cekInfo       = "Content-Encoding: aes128gcm\x00"
	nonceInfo     = "Content-Encoding: nonce\x00"
)

// encrypt seals plaintext for a subscription per RFC 8291 (aes128gcm, RFC
// 8188) in one record padded so that the whole body is recordSize bytes:
//
//	salt(16) | rs(4) = recordSize | idlen(1) = 65 | as_public(65) | AES-128-GCM(plaintext | 0x02 | zeros)
//
// A fresh ephemeral key pair and salt per message (RFC 8291 section 3.2:
// reusing them would repeat the GCM key and nonce). This is the framing
// webpush-go writes; the fake decrypts it independently.
func encrypt(plaintext []byte, ua *ecdh.PublicKey, auth []byte, recordSize int) ([]byte, error) {
	padded := recordSize - headerLen - 16 // plaintext, delimiter and padding
	if len(plaintext)+1 > padded {
		return nil, fmt.Errorf("%w: %d bytes of payload, at most %d fit a %d-byte record",
			provider.ErrPayloadTooLarge, len(plaintext), padded-1, recordSize)
	}
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	secret, err := as.ECDH(ua)
	if err != nil {
		return nil, err
	}
	asPub := as.PublicKey().Bytes()
	uaPub := ua.Bytes()
	info := make([]byte, 0, len(keyInfoPrefix)+2*65)
	info = append(append(append(info, keyInfoPrefix...), uaPub...), asPub...)
	ikm, err := hkdf.Key(sha256.New, secret, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	body := make([]byte, headerLen, recordSize)
	salt := body[:16]
	rand.Read(salt)
	binary.BigEndian.PutUint32(body[16:20], uint32(recordSize))
	body[20] = byte(len(asPub))
	copy(body[21:], asPub)
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, cekInfo, 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, nonceInfo, 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// Seal in place after the header: plaintext, 0x02, zeros (the slice
	// is zeroed by make's growth below), then the tag.
	record := body[headerLen : headerLen+padded]
	n := copy(record, plaintext)
	record[n] = 2
	clear(record[n+1:])
	return gcm.Seal(body[:headerLen], nonce, record, nil), nil
}
