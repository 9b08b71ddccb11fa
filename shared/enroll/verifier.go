package enroll

import (
	"crypto/ed25519"
	"time"
)

// Verifier makes every check the relay needs on a kiosk's credentials, in
// the right order: signature and time window, the machine code the kiosk
// claims, then revocations.
type Verifier struct {
	PublicKey   ed25519.PublicKey
	Revocations *Revocations     // nil revokes nothing
	Now         func() time.Time // nil means time.Now
}

// VerifyFor checks that token is valid now for the kiosk claiming to be
// machineCode and returns its claims.
func (v *Verifier) VerifyFor(machineCode, token string) (Claims, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	c, err := Verify(v.PublicKey, token, now())
	if err != nil {
		return Claims{}, err
	}
	if err := c.CheckMachine(machineCode); err != nil {
		return Claims{}, err
	}
	if err := v.Revocations.Check(c); err != nil {
		return Claims{}, err
	}
	return c, nil
}
