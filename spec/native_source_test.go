package spec_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nines-sre/nines/spec"
)

// The engine stores each SLO as the native document Convert writes, so a
// pull source must come back from it whole: the API, its headers and its
// credentials' files.
func TestPullSourcesSurviveConversionToTheNativeFormat(t *testing.T) {
	slos, _, err := spec.Load("pull-sources.yaml", readFile(t, "testdata/valid/pull-sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slos {
		t.Run(s.Name, func(t *testing.T) {
			out, err := spec.Convert(spec.Native, s)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			back, _, err := spec.Load("converted.yaml", out)
			if err != nil {
				t.Fatalf("reloading the converted spec: %v\n%s", err, out)
			}
			if got, want := back[0].SLI.Source, s.SLI.Source; !reflect.DeepEqual(got, want) {
				t.Errorf("source after conversion = %+v (api %+v), want %+v (api %+v)", *got, got.Prometheus, *want, want.Prometheus)
			}
		})
	}
}

func TestHeaderNamesAreCaseInsensitiveWhenCheckedForRepeats(t *testing.T) {
	doc := `name: a
service: x
sli:
  good: {status: "<500"}
  source:
    prometheus:
      url: http://p:9090
      good: 'a_total{code!~"5.."}'
      total: a_total
      headers: {X-Scope-OrgID: a, x-scope-orgid: b}
objective: 99
window: {rolling: 1d}
`
	_, _, err := spec.Load("h.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "case-insensitive") {
		t.Fatalf("Load = %v; want the repeated header refused", err)
	}
}
