package emftest

import (
	"strings"
	"testing"
)

const good = `{"_aws":{"Timestamp":1795932000000,"CloudWatchMetrics":[{"Namespace":"Hookline","Dimensions":[["Stack"]],"Metrics":[{"Name":"EventsHandled","Unit":"Count"}]}]},"Stack":"s","EventsHandled":3}`

func TestParseAcceptsASpecExample(t *testing.T) {
	ms, err := Parse([]byte(good))
	if err != nil || len(ms) != 1 || ms[0].Name != "EventsHandled" || ms[0].Values[0] != 3 {
		t.Fatalf("Parse = %+v, %v", ms, err)
	}
}

func TestParseRejectsWhatCloudWatchDrops(t *testing.T) {
	hundredOne := "[" + strings.Repeat("1,", 100) + "1]"
	dims31 := `["Stack"` + strings.Repeat(`,"Stack"`, 30) + `]`
	cases := map[string]string{
		"not JSON":              `EventsHandled=3`,
		"text after the object": good + ` trailing`,
		"no _aws":               `{"Stack":"s","EventsHandled":3}`,
		"seconds timestamp":     strings.Replace(good, "1795932000000", "1795932000", 1),
		"string timestamp":      strings.Replace(good, "1795932000000", `"1795932000000"`, 1),
		"no directives":         `{"_aws":{"Timestamp":1795932000000,"CloudWatchMetrics":[]},"Stack":"s"}`,
		"AWS namespace":         strings.Replace(good, `"Hookline"`, `"AWS/Lambda"`, 1),
		"unit not CloudWatch's": strings.Replace(good, `"Count"`, `"Events"`, 1),
		"string value":          strings.Replace(good, `"EventsHandled":3`, `"EventsHandled":"3"`, 1),
		"missing value":         strings.Replace(good, `,"EventsHandled":3`, ``, 1),
		"101 values":            strings.Replace(good, `"EventsHandled":3`, `"EventsHandled":`+hundredOne, 1),
		"missing dimension":     strings.Replace(good, `"Stack":"s",`, ``, 1),
		"numeric dimension":     strings.Replace(good, `"Stack":"s"`, `"Stack":1`, 1),
		"31 dimensions":         strings.Replace(good, `[["Stack"]]`, `[`+dims31+`]`, 1),
		"unknown member":        strings.Replace(good, `"Unit":"Count"`, `"Unit":"Count","Kind":"x"`, 1),
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(line)); err == nil {
				t.Errorf("accepted %s", line)
			}
		})
	}
}
