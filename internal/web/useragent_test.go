package web

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseUserAgent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ua string
		want     UserAgent
		str      string
	}{
		{"chrome windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
			UserAgent{"Chrome", "126", "Windows"}, "Chrome 126 on Windows"},
		{"chrome mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.142 Safari/537.36",
			UserAgent{"Chrome", "125", "macOS"}, "Chrome 125 on macOS"},
		{"chrome android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
			UserAgent{"Chrome", "126", "Android"}, "Chrome 126 on Android"},
		{"chrome ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
			UserAgent{"Chrome", "126", "iOS"}, "Chrome 126 on iOS"},
		{"headless chrome linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.85 Safari/537.36",
			UserAgent{"Chrome", "131", "Linux"}, "Chrome 131 on Linux"},
		{"chrome os", "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
			UserAgent{"Chrome", "126", "ChromeOS"}, "Chrome 126 on ChromeOS"},
		{"edge windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
			UserAgent{"Edge", "126", "Windows"}, "Edge 126 on Windows"},
		{"edge android", "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36 EdgA/126.0.2592.80",
			UserAgent{"Edge", "126", "Android"}, "Edge 126 on Android"},
		{"edge ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/126.2592.86 Mobile/15E148 Safari/605.1.15",
			UserAgent{"Edge", "126", "iOS"}, "Edge 126 on iOS"},
		{"legacy edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582",
			UserAgent{"Edge", "18", "Windows"}, "Edge 18 on Windows"},
		{"firefox linux", "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
			UserAgent{"Firefox", "127", "Linux"}, "Firefox 127 on Linux"},
		{"firefox windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
			UserAgent{"Firefox", "128", "Windows"}, "Firefox 128 on Windows"},
		{"firefox mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0",
			UserAgent{"Firefox", "127", "macOS"}, "Firefox 127 on macOS"},
		{"firefox android", "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
			UserAgent{"Firefox", "127", "Android"}, "Firefox 127 on Android"},
		{"firefox ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
			UserAgent{"Firefox", "127", "iOS"}, "Firefox 127 on iOS"},
		{"safari mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
			UserAgent{"Safari", "17", "macOS"}, "Safari 17 on macOS"},
		{"safari iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
			UserAgent{"Safari", "17", "iOS"}, "Safari 17 on iOS"},
		{"safari ipad", "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
			UserAgent{"Safari", "17", "iPadOS"}, "Safari 17 on iPadOS"},
		{"opera windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0",
			UserAgent{"Opera", "111", "Windows"}, "Opera 111 on Windows"},
		{"opera presto", "Opera/9.80 (X11; Linux x86_64) Presto/2.12.388 Version/12.16",
			UserAgent{"Opera", "12", "Linux"}, "Opera 12 on Linux"},
		{"samsung", "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
			UserAgent{"Samsung Internet", "25", "Android"}, "Samsung Internet 25 on Android"},
		{"curl", "curl/8.5.0", UserAgent{"curl", "8", ""}, "curl 8"},
		{"wget", "Wget/1.21.3", UserAgent{"Wget", "1", ""}, "Wget 1"},
		{"go client", "Go-http-client/1.1", UserAgent{"Go-http-client", "1", ""}, "Go-http-client 1"},
		{"okhttp", "okhttp/4.12.0", UserAgent{"okhttp", "4", ""}, "okhttp 4"},
		{"empty", "", UserAgent{}, "Unknown device"},
		{"mozilla only", "Mozilla/5.0", UserAgent{}, "Unknown device"},
		{"unknown on linux", "Mozilla/5.0 (X11; Linux x86_64)", UserAgent{"", "", "Linux"}, "Unknown device on Linux"},
		{"garbage", "<script>alert(1)</script>", UserAgent{}, "Unknown device"},
		{"markup product", "<b>/1", UserAgent{}, "Unknown device"},
		{"chrome in a word", "NotChrome/1.0", UserAgent{"NotChrome", "1", ""}, "NotChrome 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ParseUserAgent(tt.ua)
			if got != tt.want {
				t.Errorf("ParseUserAgent(%q) = %+v, want %+v", tt.ua, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestParseUserAgent_LongInputBounded(t *testing.T) {
	t.Parallel()
	ua := strings.Repeat("Chrome/", 100000)
	got := ParseUserAgent(ua)
	if got.Browser != "Chrome" || got.Version != "" {
		t.Fatalf("got %+v", got)
	}
}

func FuzzParseUserAgent(f *testing.F) {
	for _, s := range []string{
		"", "curl/8.5.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"Opera/9.80 (X11; Linux x86_64) Presto/2.12.388 Version/12.16", "Safari/", "Edg/", "x/" + strings.Repeat("9", 20),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		u := ParseUserAgent(ua)
		s := u.String()
		if !utf8.ValidString(s) || len(s) > 100 {
			t.Fatalf("description %q for %q", s, ua)
		}
		if strings.ContainsAny(s, "<>\"'&\r\n") {
			t.Fatalf("description %q carries markup or control characters", s)
		}
		for _, c := range u.Version {
			if c < '0' || c > '9' {
				t.Fatalf("version %q is not digits", u.Version)
			}
		}
	})
}
