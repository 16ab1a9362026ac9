package charts

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestStackedBarsIsWellFormedSVGWithEveryBarAndName(t *testing.T) {
	svg := StackedBars(Bars{Title: "Sign-ins <per> day", Labels: []string{"11-01", "11-02"},
		Series: []Series{{Name: "Passkey", Color: "#2563eb", Values: []float64{3, 0}}, {Name: "Password & code", Color: "#f59e0b", Values: []float64{1, 2}}}})
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed XML: %v\n%s", err, svg)
			}
			break
		}
	}
	s := string(svg)
	for _, want := range []string{`viewBox="0 0 640`, "Sign-ins &lt;per&gt; day", "11-01 Passkey: 3", "11-02 Password &amp; code: 2", `>5<`} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Count(s, "<rect x=") != 3+2 { // three bars' parts and two legend keys
		t.Errorf("%d rects", strings.Count(s, "<rect x="))
	}
}

func TestEmptyAndPercentCharts(t *testing.T) {
	if s := string(StackedBars(Bars{Title: "Nothing"})); !strings.Contains(s, "</svg>") {
		t.Fatal(s)
	}
	if s := string(StackedBars(Bars{Title: "Share", Percent: true, Labels: []string{"a"},
		Series: []Series{{Name: "x", Color: "red", Values: []float64{40}}}})); !strings.Contains(s, ">100%<") {
		t.Fatal(s)
	}
}
