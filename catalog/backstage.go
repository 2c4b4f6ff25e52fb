package catalog

import (
	"fmt"
	"strings"

	"github.com/nines-sre/nines/spec"
	"gopkg.in/yaml.v3"
)

// backstage reads one Backstage entity (catalog-info.yaml). Components
// become services; their spec.dependsOn component references become hard,
// synchronous dependencies, the conservative reading, since Backstage does
// not say which; other kinds are counted in Catalog.Ignored. Fields nines
// does not use are left alone: Backstage entities carry many.
func (r *reader) backstage(doc, apiVersion *yaml.Node) {
	if apiVersion.Kind != yaml.ScalarNode || !strings.HasPrefix(apiVersion.Value, "backstage.io/") {
		r.errorf(apiVersion, "apiVersion", "%s is not a catalog format nines reads; want backstage.io/v1alpha1 (a Backstage entity) or no apiVersion (services:)", spec.Describe(apiVersion))
		return
	}
	kind := r.lookup(doc, "kind")
	if kind == nil || kind.Kind != yaml.ScalarNode {
		r.errorf(doc, "kind", "missing; a Backstage entity says its kind, such as Component")
		return
	}
	if kind.Value != "Component" {
		r.l.cat.Ignored++
		return
	}
	meta := r.lookup(doc, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode {
		r.errorf(doc, "metadata", "missing; a Component needs metadata: with name:")
		return
	}
	nameNode := r.lookup(meta, "name")
	if nameNode == nil {
		r.errorf(meta, "metadata.name", "missing; want the component's name")
		return
	}
	name, ok := r.name(nameNode, "metadata.name", "a component name such as checkout")
	if !ok {
		return
	}
	s := &Service{Name: name, Pos: r.pos(nameNode), field: "metadata.name"}
	if v := r.lookup(meta, "description"); v != nil {
		s.Description, _ = r.text(v, "metadata.description")
	}
	sp := r.lookup(doc, "spec")
	if sp == nil || sp.Kind != yaml.MappingNode {
		r.errorf(doc, "spec", "missing; a Component needs spec: with owner: and lifecycle:")
		return
	}
	if v := r.lookup(sp, "owner"); v != nil {
		if owner, ok := r.text(v, "spec.owner"); ok {
			s.Owner = refName(owner)
		}
	}
	if v := r.lookup(sp, "lifecycle"); v != nil {
		s.Lifecycle, _ = r.text(v, "spec.lifecycle")
	}
	if deps := r.lookup(sp, "dependsOn"); deps != nil {
		if deps.Kind != yaml.SequenceNode {
			r.errorf(deps, "spec.dependsOn", "got %s; want a list of entity references such as component:default/payments", spec.Describe(deps))
		} else {
			for i, d := range deps.Content {
				d = spec.Resolve(d)
				field := fmt.Sprintf("spec.dependsOn[%d]", i)
				ref, ok := r.text(d, field)
				if !ok {
					continue
				}
				kind, target := refKind(ref)
				if kind != "component" {
					r.l.cat.IgnoredRefs++
					continue
				}
				if !spec.ValidName(target) {
					r.errorf(d, field, "%s is not a component reference; want component:default/NAME", spec.Quote(ref))
					continue
				}
				s.Dependencies = append(s.Dependencies, Dependency{Service: target, Pos: r.pos(d), field: field})
			}
		}
	}
	r.l.add(s, nil)
}

// refKind splits a Backstage entity reference [kind:][namespace/]name.
// Without a kind a dependsOn reference is taken as a component, as
// Backstage's own catalog does for Component dependsOn.
func refKind(ref string) (kind, name string) {
	kind = "component"
	if k, rest, ok := strings.Cut(ref, ":"); ok {
		kind, ref = strings.ToLower(k), rest
	}
	return kind, refName(ref)
}

// refName drops the kind and namespace of an entity reference: services
// are keyed by name alone.
func refName(ref string) string {
	if _, rest, ok := strings.Cut(ref, ":"); ok {
		ref = rest
	}
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	return ref
}
