package op_test

import (
	"fmt"

	"github.com/sessiond/sessiond/oidc/op"
)

// A client sends the S256 challenge of a random verifier with the
// authorization request, and the verifier with the code.
func ExampleS256() {
	fmt.Println(op.S256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	// Output: E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
}
