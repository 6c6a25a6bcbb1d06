package session_test

import (
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// A sign-in with a password and then a one-time code reaches AAL2; a route
// that asks for a second factor within ten minutes accepts it for ten
// minutes.
func ExampleAssurance() {
	login := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	a := session.Assurance{}.Add(login, session.FactorPassword)
	fmt.Println(a.ACR(), a.AMR)
	a = a.Add(login.Add(30*time.Second), session.FactorOTP)
	fmt.Println(a.ACR(), a.AMR)

	fmt.Println(a.Satisfies(session.AAL2, 10*time.Minute, login.Add(5*time.Minute)))
	fmt.Println(a.Satisfies(session.AAL2, 10*time.Minute, login.Add(time.Hour)))
	// Output:
	// aal1 [pwd]
	// aal2 [pwd otp mfa]
	// true
	// false
}
