// Package charts draws the reports' charts as SVG on the server: no script,
// no library in the browser, nothing the page's content security policy has
// to allow but an image from its own origin. The drawing scales to its
// container (a 390 px phone included) through its viewBox.
package charts

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
)

// Series is one stacked part of every bar.
type Series struct {
	Name   string
	Color  string // a CSS color
	Values []float64
}

// Bars is a stacked bar chart: one bar per label, the series stacked in order.
type Bars struct {
	Title  string // the chart's accessible name
	Labels []string
	Series []Series
	// Percent draws the axis from 0 to 100 with a % unit.
	Percent bool
}

const (
	width, height       = 640, 280
	left, right, top    = 44, 8, 12
	plotBottom          = 210
	legendTop, legendDY = 244, 18
)

// StackedBars draws b.
func StackedBars(b Bars) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s" font-family="system-ui, sans-serif" font-size="12">`,
		width, height+legendDY*((len(b.Series)-1)/3), esc(b.Title))
	fmt.Fprintf(&buf, `<title>%s</title>`, esc(b.Title))
	max := 0.0
	for i := range b.Labels {
		sum := 0.0
		for _, s := range b.Series {
			if i < len(s.Values) {
				sum += s.Values[i]
			}
		}
		max = math.Max(max, sum)
	}
	if b.Percent {
		max = 100
	}
	max = niceCeil(max)
	plotH := float64(plotBottom - top)
	// Axis and grid: 0, half, max.
	for _, f := range []float64{0, 0.5, 1} {
		y := float64(plotBottom) - f*plotH
		fmt.Fprintf(&buf, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d4da" stroke-width="1"/>`, left, width-right, y, y)
		label := trim(f * max)
		if b.Percent {
			label += "%"
		}
		fmt.Fprintf(&buf, `<text x="%d" y="%.1f" text-anchor="end" fill="#4a5060">%s</text>`, left-6, y+4, esc(label))
	}
	n := len(b.Labels)
	if n > 0 {
		slot := float64(width-left-right) / float64(n)
		bw := math.Max(1, slot*0.7)
		every := int(math.Ceil(float64(n) / 8)) // at most 8 labels: readable at 390 px
		for i, label := range b.Labels {
			x := float64(left) + slot*float64(i) + (slot-bw)/2
			y := float64(plotBottom)
			for _, s := range b.Series {
				v := 0.0
				if i < len(s.Values) {
					v = s.Values[i]
				}
				if v <= 0 || max == 0 {
					continue
				}
				hgt := v / max * plotH
				y -= hgt
				fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
					x, y, bw, hgt, esc(s.Color), esc(label), esc(s.Name), esc(trim(v)))
			}
			if i%every == 0 {
				fmt.Fprintf(&buf, `<text x="%.1f" y="%d" text-anchor="middle" fill="#4a5060">%s</text>`, x+bw/2, plotBottom+16, esc(label))
			}
		}
	}
	for i, s := range b.Series {
		x, y := left+(i%3)*200, legendTop+(i/3)*legendDY
		fmt.Fprintf(&buf, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" fill="#1d2330">%s</text>`,
			x, y-10, esc(s.Color), x+18, y, esc(s.Name))
	}
	buf.WriteString(`</svg>`)
	return buf.Bytes()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten (0 stays 0 → 1).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
