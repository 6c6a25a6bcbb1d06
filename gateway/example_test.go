package gateway_test

import (
	"fmt"

	"github.com/sessiond/sessiond/gateway"
)

func ExampleCleanPath() {
	for _, raw := range []string{"/public/%2e%2e/admin", "//api//v1/./users;jsessionid=x", "/public%2F..%2Fadmin"} {
		p, err := gateway.CleanPath(raw)
		fmt.Printf("%s → %q %v\n", raw, p, err)
	}
	// Output:
	// /public/%2e%2e/admin → "/admin" <nil>
	// //api//v1/./users;jsessionid=x → "/api/v1/users" <nil>
	// /public%2F..%2Fadmin → "" gateway: path refused: the path holds an encoded slash (%2F)
}

func ExamplePolicy() {
	p, err := gateway.NewPolicy([]gateway.Rule{
		{PathPrefix: "/healthz", Action: gateway.Public},
		{PathPrefix: "/admin", Roles: []string{"admin"}},
		{Host: "api.example.com", Credentials: gateway.BearerOnly},
	}, gateway.Options{})
	if err != nil {
		panic(err)
	}
	user := &gateway.Subject{Via: "cookie", Roles: []string{"user"}}
	for _, req := range []gateway.Request{
		{Method: "GET", Host: "app.example.com", Path: "/healthz"},
		{Method: "GET", Host: "app.example.com", Path: "/admin/users"},
		{Method: "GET", Host: "api.example.com", Path: "/orders"},
		{Method: "GET", Host: "app.example.com", Path: "/orders"},
	} {
		rule, i := p.Match(req)
		fmt.Printf("%s%s: rule %d, %v\n", req.Host, req.Path, i, rule.Decide(user))
	}
	// Output:
	// app.example.com/healthz: rule 0, allow
	// app.example.com/admin/users: rule 1, forbidden
	// api.example.com/orders: rule 2, unauthenticated
	// app.example.com/orders: rule -1, allow
}
