package config

import (
	"slices"
	"strings"
	"testing"
)

func TestRelatedOriginsAreServedAsBrowsersWriteThem(t *testing.T) {
	c := Defaults()
	c.PublicURL = "https://login.contoso.com"
	c.RelatedOrigins = " https://LOGIN.contoso.co.uk:443 ,, https://id.fabrikam.com:8443/ "
	got, err := c.RelatedOriginsList()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://login.contoso.co.uk", "https://id.fabrikam.com:8443"}
	if !slices.Equal(got, want) {
		t.Fatalf("origins = %q, want %q", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
}

func TestRelatedOriginsRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, public, origins, want string
	}{
		{"plain_http", "https://a.example", "http://b.example", "must start with https://"},
		{"path", "https://a.example", "https://b.example/login", "no path"},
		{"query", "https://a.example", "https://b.example?x=1", "no path, query"},
		{"user", "https://a.example", "https://u:p@b.example", "no path, query, fragment or user"},
		{"not_an_origin", "https://a.example", "b.example", "is not an origin"},
		{"ip_address", "https://a.example", "https://192.0.2.1", "IP address"},
		{"public_suffix", "https://a.example", "https://co.uk", "no registrable domain"},
		{"bad_port", "https://a.example", "https://b.example:99999", "invalid port"},
		{"own_origin", "https://a.example", "https://a.example", "public URL's own origin"},
		{"twice", "https://a.example", "https://b.example, https://B.example:443", "listed twice"},
		{"http_public_url", "http://localhost:8080", "https://b.example", "public_url must be https"},
		{"six_labels", "https://a.example",
			"https://x.one.com,https://y.one.com,https://two.com,https://three.co.uk,https://four.de,https://five.fr,https://six.nl",
			"span 6 registrable domains (one, two, three, four, five, six); browsers honour at most 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			c.PublicURL = tc.public
			c.RelatedOrigins = tc.origins
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "related_origins: ") {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRelatedOriginsFromEveryRoute(t *testing.T) {
	c, err := Load("", []string{"KEYWARD_RELATED_ORIGINS=https://id.fabrikam.com"}, nil)
	if err != nil || c.RelatedOrigins != "https://id.fabrikam.com" {
		t.Fatalf("from env: %q, %v", c.RelatedOrigins, err)
	}
}
