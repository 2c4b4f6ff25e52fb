package spec

import "gopkg.in/yaml.v3"

// The helpers below let other YAML readers (the service catalog) word
// their messages the way spec files do, instead of keeping copies.

// Suggest returns the option nearest to s when it is near enough to be a
// slip of the keyboard, or "".
func Suggest(s string, options []string) string { return suggest(s, options) }

// Quote quotes user text for a message, cut short when long.
func Quote(s string) string { return quote(s) }

// Describe names what a node is, for "got X; want Y".
func Describe(n *yaml.Node) string { return describe(n) }

// Resolve follows an alias to the node it names.
func Resolve(n *yaml.Node) *yaml.Node { return resolve(n) }

// ValidName reports whether s is fit for URLs, file names and metric
// labels, as SLO names must be.
func ValidName(s string) bool { return validName(s) }

// Decode splits data into its YAML documents, leaving out empty ones, and
// returns the content node of each. A syntax error is an *Error at the
// line yaml.v3 reports.
func Decode(file string, data []byte) ([]*yaml.Node, error) {
	docs, err := decode(file, data)
	if err != nil {
		return docs, err
	}
	return docs, nil
}
