package webpushfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// decrypt opens an RFC 8291 aes128gcm body with the subscription's private
// key and auth secret, as a browser does: an independent implementation of
// the receiving side, so the fake checks what the sender's library wrote.
//
// Body (RFC 8188 section 2.1): salt(16) | rs(4, big endian) | idlen(1) |
// keyid(idlen: the sender's ephemeral P-256 public key, 65 bytes, RFC 8291
// section 4) | one record of ciphertext, at most rs bytes.
func decrypt(body []byte, ua *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if rs < 18 {
		return nil, fmt.Errorf("record size %d below 18 (RFC 8188 section 2.1)", rs)
	}
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("key id of %d bytes, want the 65-byte sender key (RFC 8291 section 4)", idlen)
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, fmt.Errorf("sender key: %v", err)
	}
	ct := body[21+idlen:]
	if len(ct) > int(rs) {
		return nil, fmt.Errorf("%d bytes of ciphertext in a record of %d: Web Push allows one record (RFC 8291 section 4)", len(ct), rs)
	}
	// RFC 8291 section 3.3-3.4.
	secret, err := ua.ECDH(asPub)
	if err != nil {
		return nil, err
	}
	info := append([]byte("WebPush: info\x00"), ua.PublicKey().Bytes()...)
	info = append(info, asPub.Bytes()...)
	ikm, err := hkdf.Key(sha256.New, secret, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	// RFC 8188 section 2.2-2.3.
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
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
	plain, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, fmt.Errorf("record does not decrypt: %v", err)
	}
	// Padding (RFC 8188 section 2): data, then 0x02 (the last record's
	// delimiter), then zeros.
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("no 0x02 delimiter ends the last record's data")
	}
	return plain[:i], nil
}
