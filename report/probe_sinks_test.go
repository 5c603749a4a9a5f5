package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/internal/probetest"
)

// Rule: the JSON report, JUnit, the console and replay --curl take a
// probe's result as they take an HTTP one: its kind, what it asked and
// what came back, and the failed assertion with what the peer said.
func TestReportsTakeProbeResults(t *testing.T) {
	results := probetest.Results(t)

	var js bytes.Buffer
	if err := WriteJSON(&js, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct {
			Check    string `json:"check"`
			Passed   bool   `json:"passed"`
			Reason   string `json:"reason"`
			Attempts []struct {
				Steps []struct {
					Kind    string `json:"kind"`
					Request struct {
						Method, URL, Body string
					} `json:"request"`
					Response struct {
						Proto, Line, Body string
					} `json:"response"`
				} `json:"steps"`
			} `json:"attempts"`
		} `json:"results"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, js.String())
	}
	if len(doc.Results) != 2 {
		t.Fatalf("JSON report: %s", js.String())
	}
	fail := doc.Results[1]
	st := fail.Attempts[0].Steps[0]
	if fail.Check != probetest.Failing || fail.Passed || fail.Reason != "assertion" || st.Kind != "tcp" || st.Request.Method != "TCP" ||
		!strings.HasPrefix(st.Request.URL, "tcp://127.0.0.1:") || st.Request.Body != "PING\r\n" || st.Response.Proto != "TCP" ||
		!strings.Contains(st.Response.Body, probetest.Received) || !strings.Contains(st.Response.Line, "bytes received") {
		t.Errorf("JSON report of the failed tcp check: %+v", fail)
	}

	var ju bytes.Buffer
	if err := WriteJUnit(&ju, results, "probes"); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(ju.Bytes(), &suites); err != nil {
		t.Fatalf("%v\n%s", err, ju.String())
	}
	var failures []string
	cases := 0
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			cases++
			if c.Failure != nil {
				failures = append(failures, c.Failure.Message+"\n"+c.Failure.Text)
			}
		}
	}
	if cases != 2 || len(failures) != 1 || !strings.Contains(failures[0], `tcp expect: expected to contain "+PANG"`) ||
		!strings.Contains(failures[0], "request: TCP tcp://127.0.0.1:") || !strings.Contains(failures[0], probetest.Received) {
		t.Errorf("JUnit: %d cases, failures %q\n%s", cases, failures, ju.String())
	}

	var con bytes.Buffer
	WriteConsole(&con, results, ConsoleOptions{})
	if out := con.String(); !strings.Contains(out, "TCP tcp://127.0.0.1:") || !strings.Contains(out, "TCP ") || !strings.Contains(out, "bytes received") || strings.Contains(out, "TCP 0") {
		t.Errorf("console:\n%s", out)
	}

	var curl bytes.Buffer
	if err := Curl(&curl, results[1]); err != nil {
		t.Fatal(err)
	}
	if out := curl.String(); strings.Contains(out, "curl ") || !strings.Contains(out, "# a tcp probe, not an HTTP request: tcp://127.0.0.1:") {
		t.Errorf("curl:\n%s", out)
	}
}
