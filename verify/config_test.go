package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseReadsBothKindsOfVerifierWithTheirDefaults(t *testing.T) {
	defs, err := Parse("verifiers.yaml", []byte(`verifiers:
  - name: backups
    target:
      kind: blob
      baseURL: http://blobs.internal:9000/backups/
      headers: {X-Api-Key: k1}
    writesPerMinute: 10
    objectSize: 64KiB
  - name: uploads
    mode: reported
    sampleRate: 1%
    target:
      kind: s3
      endpoint: https://s3.eu-west-1.amazonaws.com
      bucket: user-uploads
      region: eu-west-1
      accessKeyEnv: UPLOADS_AWS_ACCESS_KEY_ID
      secretKeyEnv: UPLOADS_AWS_SECRET_ACCESS_KEY
      pathStyle: true
    readAfter: [1m, 1h, 1d]
    canaryEvery: 30m
    heartbeat: 5m
    objective: 99.999%
`))
	if err != nil {
		t.Fatal(err)
	}
	b, u := defs[0], defs[1]
	if b.Mode != ModeWrite || b.WritesPerMinute != 10 || b.ObjectSize != 64<<10 || b.Target.Headers["X-Api-Key"] != "k1" ||
		len(b.ReadAfter) != 5 || b.ReadAfter[4] != 30*24*time.Hour || b.CanaryEvery != time.Hour || b.Heartbeat != time.Minute ||
		b.CanaryDeadline != 11*time.Minute || b.KeyPrefix != "nines-verify/backups/" || b.Objective != DefaultObjective {
		t.Errorf("backups: %+v", b)
	}
	if u.Mode != ModeReported || u.SampleRate != 0.01 || u.Target.Bucket != "user-uploads" || !u.Target.PathStyle ||
		u.Target.AccessKeyEnv != "UPLOADS_AWS_ACCESS_KEY_ID" || len(u.ReadAfter) != 3 || u.CanaryEvery != 30*time.Minute ||
		u.Heartbeat != 5*time.Minute || u.Objective < 0.99998 || u.Objective > 0.99999+1e-12 {
		t.Errorf("uploads: %+v", u)
	}
}

func TestParseRefusesBadVerifiersWithFileLineAndColumn(t *testing.T) {
	head := "verifiers:\n  - name: v\n"
	blob := "    target: {kind: blob, baseURL: http://b/}\n"
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"a verifier without a target", head + "    writesPerMinute: 1\n",
			[]string{"verifiers.yaml:2:5: verifiers[0].target: missing; want where the objects live"}},
		{"a target of no known kind", head + "    target: {kind: ftp}\n    writesPerMinute: 1\n",
			[]string{`verifiers.yaml:3:20: verifiers[0].target.kind: "ftp" is not a target kind`}},
		{"a blob target without a base URL", head + "    target: {kind: blob}\n    writesPerMinute: 1\n",
			[]string{"verifiers.yaml:3:13: verifiers[0].target.baseURL: missing"}},
		{"a base URL that is not http", head + "    target: {kind: blob, baseURL: ftp://b/}\n    writesPerMinute: 1\n",
			[]string{`verifiers.yaml:3:35: verifiers[0].target.baseURL: "ftp://b/" is not an http or https URL`}},
		{"an S3 field on a blob target", head + "    target: {kind: blob, baseURL: http://b/, bucket: x}\n    writesPerMinute: 1\n",
			[]string{"verifiers[0].target.bucket: not a field of a blob target"}},
		{"a secret where an environment variable name belongs", head + "    target: {kind: s3, endpoint: https://s3, bucket: bkt, region: us-east-1, accessKeyEnv: AKIA/EXAMPLE, secretKeyEnv: S}\n    mode: reported\n    sampleRate: 1%\n",
			[]string{"verifiers[0].target.accessKeyEnv: \"AKIA/EXAMPLE\" is not an environment variable name; name the variable that holds the key, never the key itself"}},
		{"an S3 target without its keys", head + "    target: {kind: s3, endpoint: https://s3, bucket: bkt, region: us-east-1}\n    mode: reported\n    sampleRate: 1%\n",
			[]string{"verifiers[0].target.accessKeyEnv: missing", "verifiers[0].target.secretKeyEnv: missing"}},
		{"a bucket name S3 refuses", head + "    target: {kind: s3, endpoint: https://s3, bucket: My_Bucket, region: us-east-1, accessKeyEnv: A, secretKeyEnv: S}\n    mode: reported\n    sampleRate: 1%\n",
			[]string{"verifiers.yaml:3:54: verifiers[0].target.bucket: \"My_Bucket\" is not a bucket name"}},
		{"a sample rate above 100 %", head + blob + "    mode: reported\n    sampleRate: 150%\n",
			[]string{"verifiers.yaml:5:17: verifiers[0].sampleRate: \"150%\" is out of range"}},
		{"a sample rate of zero", head + blob + "    mode: reported\n    sampleRate: 0%\n",
			[]string{"verifiers[0].sampleRate: \"0%\" is out of range"}},
		{"a sample rate without its sign", head + blob + "    mode: reported\n    sampleRate: 0.01\n",
			[]string{"verifiers[0].sampleRate: \"0.01\" has no % sign"}},
		{"a reported verifier without a sample rate", head + blob + "    mode: reported\n",
			[]string{"verifiers[0].sampleRate: missing"}},
		{"a sample rate on a write verifier", head + blob + "    writesPerMinute: 1\n    sampleRate: 1%\n",
			[]string{"verifiers.yaml:5:17: verifiers[0].sampleRate: a write verifier reads back every object it writes"}},
		{"a write verifier without a rate", head + blob,
			[]string{"verifiers[0].writesPerMinute: missing"}},
		{"read ages out of order", head + blob + "    writesPerMinute: 1\n    readAfter: [1h, 1m]\n",
			[]string{"verifiers.yaml:5:21: verifiers[0].readAfter[1]: 1m is not after the age before it (1h)"}},
		{"a read age that is no duration", head + blob + "    writesPerMinute: 1\n    readAfter: [soon]\n",
			[]string{"verifiers[0].readAfter[0]: \"soon\" is not a duration"}},
		{"an object size with a unit nines does not know", head + blob + "    writesPerMinute: 1\n    objectSize: 4 parsecs\n",
			[]string{"verifiers[0].objectSize: \"4 parsecs\" is not a size"}},
		{"a canary deadline before its read", head + blob + "    writesPerMinute: 1\n    canaryDeadline: 30s\n",
			[]string{"verifiers[0].canaryDeadline: 30s leaves no time to read the canary"}},
		{"a heartbeat too short", head + blob + "    writesPerMinute: 1\n    heartbeat: 1s\n",
			[]string{"verifiers[0].heartbeat: \"1s\" is not a duration from 10s"}},
		{"a misspelt field", head + blob + "    writesPerMinute: 1\n    readAftr: [1m]\n",
			[]string{"verifiers.yaml:5:5: verifiers[0].readAftr: unknown field; did you mean readAfter?"}},
		{"a name given twice", "verifiers:\n  - {name: v, target: {kind: blob, baseURL: http://b/}, writesPerMinute: 1}\n  - {name: v, target: {kind: blob, baseURL: http://b/}, writesPerMinute: 1}\n",
			[]string{"verifiers[1].name: verifier v is also defined at line 2"}},
		{"a name with a space", "verifiers:\n  - {name: my verifier, target: {kind: blob, baseURL: http://b/}, writesPerMinute: 1}\n",
			[]string{"verifiers[0].name: \"my verifier\" is not a name"}},
		{"every problem of a file at once", head + "    writesPerMinute: 0\n    heartbeat: never\n",
			[]string{"target: missing", "writesPerMinute: \"0\" is out of range", "heartbeat: \"never\" is not a duration"}},
		{"no verifiers list", "verifier: []\n",
			[]string{"verifiers.yaml:1:1: verifier: unknown field"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("verifiers.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say\n%s", err, w)
				}
			}
		})
	}
}

func TestTheExampleVerifiersFileLoads(t *testing.T) {
	path := filepath.Join("..", "examples", "verifiers.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	defs, err := Load(path)
	if err != nil || len(defs) == 0 {
		t.Fatalf("%v (%d verifiers)", err, len(defs))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("verifiers:\n  - name: v\n    target: {kind: blob, baseURL: http://b/}\n    writesPerMinute: 1\n"))
	f.Add([]byte("verifiers:\n  - name: u\n    mode: reported\n    sampleRate: 1%\n    target: {kind: s3, endpoint: https://s3, bucket: bkt, region: us-east-1, accessKeyEnv: A, secretKeyEnv: S}\n    readAfter: [1m, 1h]\n"))
	f.Add([]byte("verifiers: [{name: x, target: &t {kind: blob}, readAfter: *t}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := Parse("f.yaml", data)
		if err != nil {
			return
		}
		for _, d := range defs {
			if d.Name == "" || len(d.ReadAfter) == 0 || d.Heartbeat <= 0 || d.CanaryEvery <= 0 || d.CanaryDeadline <= d.ReadAfter[0] {
				t.Fatalf("accepted an unusable verifier: %+v", d)
			}
			if d.Mode == ModeReported && (d.SampleRate <= 0 || d.SampleRate > 1) {
				t.Fatalf("sample rate %g accepted", d.SampleRate)
			}
			for i := 1; i < len(d.ReadAfter); i++ {
				if d.ReadAfter[i] <= d.ReadAfter[i-1] {
					t.Fatalf("read ages out of order accepted: %v", d.ReadAfter)
				}
			}
		}
	})
}
