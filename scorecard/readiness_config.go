package scorecard

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// LoadReadiness reads a readiness.yaml; a relative playbooks directory is
// taken relative to the file.
func LoadReadiness(path string) (*ReadinessConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("readiness: %w", err)
	}
	c, err := ParseReadiness(path, data)
	if err != nil {
		return nil, err
	}
	if c.PlaybooksDir != "" && !filepath.IsAbs(c.PlaybooksDir) {
		c.PlaybooksDir = filepath.Join(filepath.Dir(path), c.PlaybooksDir)
	}
	return c, nil
}

// ParseReadiness reads a readiness.yaml from data, reporting every
// problem with file:line:column. Fields left out keep DefaultReadiness's
// values; levels, when given, replace the default levels whole.
func ParseReadiness(file string, data []byte) (*ReadinessConfig, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	c := DefaultReadiness()
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return c, nil
	}
	var errs []error
	bad := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d:%d: %s", file, n.Line, n.Column, fmt.Sprintf(format, args...)))
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		bad(root, "want a mapping with levels:, postmortem_days:, playbook_timeout:, playbooks:")
		return nil, errors.Join(errs...)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			bad(k, "%s: given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "postmortem_days":
			n, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || n < 1 || n > 365 {
				bad(v, "postmortem_days: %q: want whole days, 1 to 365", v.Value)
				continue
			}
			c.PostmortemDays = n
		case "playbook_timeout":
			d, err := slo.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || d <= 0 || d > time.Minute {
				bad(v, "playbook_timeout: %q: want a duration from 1ms to 1m, such as 5s", v.Value)
				continue
			}
			c.PlaybookTimeout = d
		case "playbooks":
			if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
				bad(v, "playbooks: want the directory of the Markdown playbooks")
				continue
			}
			c.PlaybooksDir = v.Value
		case "levels":
			levels, lerrs := parseLevels(file, v)
			errs = append(errs, lerrs...)
			c.Levels = levels
		default:
			bad(k, "unknown field %q: want levels, postmortem_days, playbook_timeout or playbooks", k.Value)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func parseLevels(file string, n *yaml.Node) ([]Level, []error) {
	var errs []error
	bad := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d:%d: %s", file, n.Line, n.Column, fmt.Sprintf(format, args...)))
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		bad(n, "levels: want a list of levels, lowest first, such as [{name: bronze, checks: [owner, oncall, slo]}]")
		return nil, errs
	}
	var out []Level
	names := map[string]int{}
	checks := map[string]string{}
	for i, ln := range n.Content {
		at := fmt.Sprintf("levels[%d]", i)
		if ln.Kind != yaml.MappingNode {
			bad(ln, "%s: want a mapping with name: and checks:", at)
			continue
		}
		var l Level
		var nameNode, checksNode *yaml.Node
		for j := 0; j+1 < len(ln.Content); j += 2 {
			k, v := ln.Content[j], ln.Content[j+1]
			switch k.Value {
			case "name":
				nameNode = v
			case "checks":
				checksNode = v
			default:
				bad(k, "%s: unknown field %q: want name and checks", at, k.Value)
			}
		}
		switch {
		case nameNode == nil:
			bad(ln, "%s.name: missing", at)
		case nameNode.Kind != yaml.ScalarNode || strings.TrimSpace(nameNode.Value) == "":
			bad(nameNode, "%s.name: want a name such as bronze", at)
		case names[nameNode.Value] > 0:
			bad(nameNode, "%s.name: level %q is defined twice (first at line %d)", at, nameNode.Value, names[nameNode.Value])
		default:
			l.Name = nameNode.Value
			names[l.Name] = nameNode.Line
		}
		if checksNode == nil || checksNode.Kind != yaml.SequenceNode || len(checksNode.Content) == 0 {
			where := ln
			if checksNode != nil {
				where = checksNode
			}
			bad(where, "%s.checks: want a list of checks from %s", at, strings.Join(checkNames, ", "))
		} else {
			for _, cn := range checksNode.Content {
				switch {
				case !slices.Contains(checkNames, cn.Value):
					bad(cn, "%s.checks: unknown check %q: want one of %s", at, cn.Value, strings.Join(checkNames, ", "))
				case checks[cn.Value] != "":
					bad(cn, "%s.checks: %s is already a check of level %s; a check belongs to one level", at, cn.Value, checks[cn.Value])
				default:
					checks[cn.Value] = cmp.Or(l.Name, at)
					l.Checks = append(l.Checks, cn.Value)
				}
			}
		}
		out = append(out, l)
	}
	return out, errs
}
