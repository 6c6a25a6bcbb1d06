package web

import "strings"

// UserAgent is what a User-Agent header says about a device, for people to
// read: a browser (or client program), its major version and an operating
// system. Fields it cannot tell are empty.
type UserAgent struct {
	// Browser is "Chrome", "Edge", "Firefox", "Safari", "Opera", "Samsung
	// Internet", "Chromium", "curl", "Wget", or the first product name of
	// an unknown client (at most 32 printable ASCII characters).
	Browser string
	// Version is the browser's major version, digits only.
	Version string
	// OS is "Windows", "macOS", "iOS", "iPadOS", "Android", "ChromeOS" or
	// "Linux".
	OS string
}

// maxUserAgent bounds the work ParseUserAgent does on hostile input.
const maxUserAgent = 1024

// ParseUserAgent reads a User-Agent header. It never fails: an empty or
// unknown header gives an empty or partial UserAgent. It is meant for
// display, never for decisions.
func ParseUserAgent(ua string) UserAgent {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return UserAgent{Browser: browserOf(ua), Version: versionOf(ua), OS: osOf(ua)}
}

// browsers are tried in order: Chromium-based browsers carry "Chrome/" and
// "Safari/" too, and Chrome carries "Safari/", so the specific come first.
var browsers = []struct {
	name   string
	tokens []string // product tokens, any of which names the browser
}{
	{"Edge", []string{"Edg", "EdgA", "EdgiOS", "Edge"}},
	{"Opera", []string{"OPR", "OPiOS", "OPT", "Opera"}},
	{"Samsung Internet", []string{"SamsungBrowser"}},
	{"Firefox", []string{"Firefox", "FxiOS"}},
	{"Chrome", []string{"CriOS", "HeadlessChrome", "Chrome"}},
	{"Chromium", []string{"Chromium"}},
	{"Safari", []string{"Safari"}},
	{"curl", []string{"curl"}},
	{"Wget", []string{"Wget"}},
}

func browserOf(ua string) string {
	for _, b := range browsers {
		for _, t := range b.tokens {
			if _, ok := product(ua, t); ok {
				return b.name
			}
		}
	}
	return firstProduct(ua)
}

func versionOf(ua string) string {
	for _, b := range browsers {
		for _, t := range b.tokens {
			v, ok := product(ua, t)
			if !ok {
				continue
			}
			if b.name == "Safari" || (b.name == "Opera" && t == "Opera") {
				// Safari's own token carries the WebKit build; the
				// marketing version is in Version/. Presto-era Opera
				// does the same.
				v, _ = product(ua, "Version")
			}
			return major(v)
		}
	}
	if name := firstProduct(ua); name != "" {
		v, _ := product(ua, name)
		return major(v)
	}
	return ""
}

func osOf(ua string) string {
	switch {
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "iPad"):
		return "iPadOS"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "CrOS"):
		return "ChromeOS"
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return "macOS"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return "Linux"
	}
	return ""
}

// product finds the product token name/version at a token boundary and
// returns its version.
func product(ua, name string) (string, bool) {
	for i := 0; i+len(name) < len(ua); {
		j := strings.Index(ua[i:], name+"/")
		if j < 0 {
			return "", false
		}
		at := i + j
		if at == 0 || strings.IndexByte(" ;(,", ua[at-1]) >= 0 {
			v := ua[at+len(name)+1:]
			if k := strings.IndexAny(v, " ;()"); k >= 0 {
				v = v[:k]
			}
			return v, true
		}
		i = at + 1
	}
	return "", false
}

// major is the leading digits of a version.
func major(v string) string {
	n := 0
	for n < len(v) && n < 8 && v[n] >= '0' && v[n] <= '9' {
		n++
	}
	return v[:n]
}

// firstProduct is the name of the first product token when it is not the
// "Mozilla" every browser sends: enough to tell "okhttp" or "Go-http-client"
// apart. Only printable ASCII letters, digits and "-_." are kept.
func firstProduct(ua string) string {
	name, _, ok := strings.Cut(strings.TrimSpace(ua), "/")
	if !ok || name == "" || len(name) > 32 || strings.EqualFold(name, "Mozilla") {
		return ""
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return name
}

// String describes the device for people: "Chrome 126 on macOS", "curl 8",
// "Firefox", "Unknown device on Linux", "Unknown device".
func (u UserAgent) String() string {
	b := u.Browser
	if b == "" {
		b = "Unknown device"
	} else if u.Version != "" {
		b += " " + u.Version
	}
	if u.OS != "" {
		b += " on " + u.OS
	}
	return b
}
