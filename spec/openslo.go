package spec

import "gopkg.in/yaml.v3"

// openSLOLoader will read OpenSLO v1 documents. It gets every OpenSLO
// document of a file at once because an OpenSLO SLO may name an SLI or a
// Service defined in another document.
type openSLOLoader struct{}

func (openSLOLoader) load(r *report, docs []*yaml.Node) []loaded {
	for _, doc := range docs {
		at := doc
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if k := resolve(doc.Content[i]); k.Kind == yaml.ScalarNode && k.Value == "apiVersion" {
				at = resolve(doc.Content[i+1])
			}
		}
		r.errorf(at, "apiVersion", "%s: OpenSLO is not supported yet; write the SLO in the native nines format, which has no apiVersion (name, service, sli, objective, window)", quote(at.Value))
	}
	return nil
}
