package config

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// OIDCKeyEncryptionKeyBytes decodes oidc_key_encryption_key: 32 bytes in
// standard or URL-safe base64, padded or not. nil means none is configured.
func (c Config) OIDCKeyEncryptionKeyBytes() ([]byte, error) {
	v := strings.TrimSpace(c.OIDCKeyEncryptionKey)
	if v == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("oidc_key_encryption_key: must be 32 bytes in base64 (openssl rand -base64 32), got %d bytes", len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("oidc_key_encryption_key: is not base64; make one with: openssl rand -base64 32")
}
