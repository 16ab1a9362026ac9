package odatafilter

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseAcceptsTheSubset(t *testing.T) {
	cases := []struct {
		in   string
		want []Clause
	}{
		{"", nil},
		{"  ", nil},
		{"createdDateTime ge 2026-11-01T00:00:00Z", []Clause{
			{Path: "createdDateTime", Op: "ge", Value: Value{Word, "2026-11-01T00:00:00Z"}}}},
		{"createdDateTime GE 2026-11-01T00:00:00+01:00 AND status/errorCode ne 0", []Clause{
			{Path: "createdDateTime", Op: "ge", Value: Value{Word, "2026-11-01T00:00:00+01:00"}},
			{Path: "status/errorCode", Op: "ne", Value: Value{Word, "0"}}}},
		{"userPrincipalName eq 'o''brien@x.org'", []Clause{
			{Path: "userPrincipalName", Op: "eq", Value: Value{String, "o'brien@x.org"}}}},
		{"methodsRegistered/any(m: m eq 'passKeyDeviceBound')", []Clause{
			{Path: "methodsRegistered", Any: true, Op: "eq", Value: Value{String, "passKeyDeviceBound"}}}},
		{"targetResources/any(t:t/id eq 'abc') and category eq 'Policy'", []Clause{
			{Path: "targetResources", Any: true, Inner: "id", Op: "eq", Value: Value{String, "abc"}},
			{Path: "category", Op: "eq", Value: Value{String, "Policy"}}}},
		{"isPasswordlessCapable eq true", []Clause{
			{Path: "isPasswordlessCapable", Op: "eq", Value: Value{Word, "true"}}}},
		{"userId eq ''", []Clause{{Path: "userId", Op: "eq", Value: Value{String, ""}}}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseRefusesWhatIsNotInTheSubsetNamingIt(t *testing.T) {
	cases := []struct{ in, says string }{
		{"userId eq 'a' or userId eq 'b'", `expected "and" between conditions, found "or"`},
		{"(userId eq 'a')", `expected a field name, found "("`},
		{"not userId eq 'a'", `expected an operator (eq, ne, gt, ge, lt, le) after not, found "userId"`},
		{"startswith(userPrincipalName,'a')", "startswith( is not supported"},
		{"userId has 'a'", `found "has"`},
		{"userId eq", "expected a value after userId eq, found the end of the filter"},
		{"userId eq 'a", "not closed"},
		{"userId eq 'a' and", "expected a field name, found the end of the filter"},
		{"methodsRegistered/any(m: x eq 'a')", `expected m or m/field inside methodsRegistered/any(), found "x"`},
		{"methodsRegistered/any(m: m eq 'a'", `expected ")", found the end of the filter`},
		{"methodsRegistered/all(m: m eq 'a')", "all( is not supported"},
		{"userId eq \"a\"", "cannot contain '\"'"},
		{"userId eq 'a';drop", "cannot contain ';'"},
		{"1userId eq 'a'", `expected a field name, found "1userId"`},
		{strings.Repeat("a eq 1 and ", 17) + "a eq 1", "more than 16 conditions"},
		{strings.Repeat("x", MaxLen+1), "at most 2000"},
		{"userId eq '\xff'", "not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			if !strings.Contains(fe.Message, tc.says) {
				t.Fatalf("message %q does not say %q", fe.Message, tc.says)
			}
		})
	}
}

func TestValues(t *testing.T) {
	if _, err := (Value{Word, "2026-13-01T00:00:00Z"}).Time(); err == nil {
		t.Error("month 13 read as a time")
	}
	if tm, err := (Value{Word, "2026-11-01T01:00:00+01:00"}).Time(); err != nil || tm.Hour() != 0 || tm.Location().String() != "UTC" {
		t.Errorf("Time = %v, %v; want midnight UTC", tm, err)
	}
	if _, err := (Value{String, "true"}).Bool(); err == nil {
		t.Error("'true' in quotes read as a boolean")
	}
	if _, err := (Value{Word, "abc"}).Str(); err == nil {
		t.Error("an unquoted word read as a string")
	}
}

// FuzzParse: no input panics; what parses prints back to a filter that
// parses to the same clauses.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"createdDateTime ge 2026-11-01T00:00:00Z and status/errorCode ne 0",
		"methodsRegistered/any(m: m eq 'passKeyDeviceBound')", "targetResources/any(t: t/id eq 'a''b')",
		"a eq 1 and b ne 'x'", "(", "'", "a/any(", "x eq -1.5e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := Parse(s)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Message == "" {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
			return
		}
		var parts []string
		for _, c := range cs {
			parts = append(parts, c.String())
		}
		again, err := Parse(strings.Join(parts, " and "))
		if err != nil {
			t.Fatalf("printed %q does not parse: %v", strings.Join(parts, " and "), err)
		}
		for i := range again {
			// The lambda variable is renamed x when printed.
			if again[i] != cs[i] {
				t.Fatalf("round trip: %#v became %#v", cs[i], again[i])
			}
		}
	})
}
