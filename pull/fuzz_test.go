package pull

import (
	"testing"
)

// FuzzDecode checks that no answer makes the decoder panic, and that what
// it accepts holds valid, sorted labels.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"a","b":"c"},"values":[[1700000000.123,"1"],[1700000001,"2"]]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"a"},"histograms":[[1,{"count":"1"}]]}]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"status":"success","warnings":["w"],"data":{"resultType":"matrix","result":[]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		series, _, err := decode(body)
		if err != nil {
			return
		}
		for _, s := range series {
			if err := s.Labels.Validate(); err != nil {
				t.Fatalf("decoded labels %v: %v", s.Labels, err)
			}
		}
	})
}
