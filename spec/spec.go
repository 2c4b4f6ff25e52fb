package spec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds a spec file. Real specs are a few kilobytes; the bound
// keeps a hostile file from costing more than a moment of parsing.
const MaxFileSize = 1 << 20

// Error is one problem in a spec file. Line and Column are 1-based; either
// is zero when it is not known (an empty file, a YAML syntax error whose
// column the parser does not report). Field is the dotted path of the
// field, such as "window.timezone", or empty for the document as a whole.
type Error struct {
	File         string
	Line, Column int
	Field        string
	Err          error
}

func (e *Error) Error() string {
	return location(e.File, e.Line, e.Column, e.Field) + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Warning is input that loads but probably does not mean what its author
// wanted, such as a time zone on a rolling window, which has no effect.
type Warning struct {
	File         string
	Line, Column int
	Field        string
	Message      string
}

// String writes the warning as FILE:LINE:COL: FIELD: message.
func (w Warning) String() string {
	return location(w.File, w.Line, w.Column, w.Field) + w.Message
}

func location(file string, line, col int, field string) string {
	var b strings.Builder
	b.WriteString(file)
	if line > 0 {
		b.WriteString(":" + strconv.Itoa(line))
		if col > 0 {
			b.WriteString(":" + strconv.Itoa(col))
		}
	}
	b.WriteString(": ")
	if field != "" {
		b.WriteString(field + ": ")
	}
	return b.String()
}

// Load reads the SLOs of one spec file; name is how messages refer to it.
// The error joins an *Error for every problem found (errors.Join); when it
// is not nil no SLOs are returned, so that a caller never runs half a file.
// Warnings are returned either way. The alert policies of OpenSLO
// documents are checked but only LoadAll returns them.
func Load(name string, data []byte) ([]*slo.SLO, []Warning, error) {
	var c collector
	c.load(name, data)
	return c.result()
}

// LoadFiles loads several spec files as one set: SLO names must be unique
// across all of them, and OpenSLO references resolve across all of them.
// A nil fsys reads names as operating-system paths, which is what a
// command line hands over; otherwise names are paths inside fsys.
// Problems of every file are reported together.
func LoadFiles(fsys fs.FS, names ...string) ([]*slo.SLO, []Warning, error) {
	var c collector
	c.loadFiles(fsys, names)
	return c.result()
}

func (c *collector) loadFiles(fsys fs.FS, names []string) {
	for _, name := range names {
		data, err := readFile(fsys, name)
		if err != nil {
			// The message names the file already.
			if pe, ok := err.(*fs.PathError); ok {
				err = pe.Err
			}
			c.fail(name, err)
			continue
		}
		c.load(name, data)
	}
}

// LoadDir loads every *.yaml and *.yml file directly inside dir of fsys as
// one set, in name order. Subdirectories and names starting with a dot are
// skipped, so a directory of specs can also hold other things. A directory
// without any spec file is an error: pointing at the wrong directory should
// not read as "no SLOs". A nil fsys reads dir from the operating system.
func LoadDir(fsys fs.FS, dir string) ([]*slo.SLO, []Warning, error) {
	names, err := specFiles(fsys, dir)
	if err != nil {
		return nil, nil, err
	}
	return LoadFiles(fsys, names...)
}

// specFiles lists the spec files of dir, as LoadDir describes.
func specFiles(fsys fs.FS, dir string) ([]string, error) {
	names, err := YAMLFiles(fsys, dir)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			err = pe.Err
		}
		return nil, &Error{File: dir, Err: err}
	}
	if len(names) == 0 {
		return nil, &Error{File: dir, Err: errors.New("no spec files (*.yaml, *.yml) in directory")}
	}
	return names, nil
}

// YAMLFiles lists the *.yaml and *.yml files directly inside dir of fsys
// (nil: the operating system), in name order; subdirectories and names
// starting with a dot are left out. It is empty when there are none.
func YAMLFiles(fsys fs.FS, dir string) ([]string, error) {
	readDir, join := os.ReadDir, filepath.Join
	if fsys != nil {
		readDir = func(dir string) ([]fs.DirEntry, error) { return fs.ReadDir(fsys, dir) }
		join = path.Join
	}
	entries, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
			continue
		}
		names = append(names, join(dir, n))
	}
	return names, nil
}

// readFile reads a spec file, refusing one over MaxFileSize.
func readFile(fsys fs.FS, name string) ([]byte, error) { return ReadFile(fsys, name, MaxFileSize) }

// ReadFile reads a file of fsys (nil: the operating system), at most one
// byte more than max, so that a huge file is refused without being read
// whole: a result longer than max means the file is too large.
func ReadFile(fsys fs.FS, name string, max int64) ([]byte, error) {
	var f io.ReadCloser
	var err error
	if fsys == nil {
		f, err = os.Open(name)
	} else {
		f, err = fsys.Open(name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max+1))
}

type position struct {
	file      string
	line, col int
}

// collector gathers the SLOs of one or more files and checks that their
// names are unique across all of them. Native documents are mapped as
// their file is read; OpenSLO documents are kept until every file is in,
// because an OpenSLO object may refer to one defined in another file.
type collector struct {
	files   []*fileLoad
	zones   map[string]*time.Location
	openSLO openSLOLoader
}

// fileLoad is what one file gave.
type fileLoad struct {
	name   string
	failed *Error  // the file could not be read; r is nil
	r      *report // the file's problems
	slos   []loaded
	// nativeWarns is how many of r.warns the native loader gave; the
	// OpenSLO warnings after them are sorted by position when reported.
	nativeWarns int
}

// bundle is what a load gives, the warnings apart.
type bundle struct {
	slos     []*slo.SLO
	policies []*AlertPolicy
}

func (c *collector) result() ([]*slo.SLO, []Warning, error) {
	b, warns, err := c.finish()
	return b.slos, warns, err
}

// finish resolves the OpenSLO documents of every file, checks that SLO
// names are unique, and reports every problem, file by file, each file's
// errors in the order of their lines.
func (c *collector) finish() (bundle, []Warning, error) {
	var b bundle
	oslo, policies := c.openSLO.resolve()
	for _, l := range oslo {
		for _, f := range c.files {
			if f.r == l.r {
				f.slos = append(f.slos, l)
			}
		}
	}
	var errs []error
	var warns []Warning
	names := map[string]position{} // where each name is, for duplicate reports
	for _, f := range c.files {
		if f.failed != nil {
			errs = append(errs, f.failed)
			continue
		}
		r := f.r
		slices.SortStableFunc(f.slos, func(a, b loaded) int { return cmp.Compare(a.order, b.order) })
		for _, l := range f.slos {
			if first, dup := names[l.slo.Name]; dup {
				r.errorf(l.nameNode, l.nameField, "%s is already the name of the SLO at %s:%d:%d; SLO names must be unique", quote(l.slo.Name), first.file, first.line, first.col)
				continue
			}
			names[l.slo.Name] = position{f.name, l.nameNode.Line, l.nameNode.Column}
			b.slos = append(b.slos, l.slo)
		}
		slices.SortStableFunc(r.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		for _, e := range r.errs {
			errs = append(errs, e)
		}
		if r.cut {
			errs = append(errs, &Error{File: f.name, Err: fmt.Errorf("too many errors; only the first %d are shown", maxErrors)})
		}
		late := r.warns[f.nativeWarns:]
		slices.SortStableFunc(late, func(a, b Warning) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		warns = append(warns, r.warns...)
	}
	if len(errs) == 0 && len(b.slos) == 0 && len(c.files) > 0 {
		// Only OpenSLO files can get here: a native document is an SLO
		// or an error, and a file without documents is an error.
		errs = append(errs, &Error{File: c.files[0].name, Err: errors.New("no SLO among the documents; the OpenSLO objects take effect only through a document of kind: SLO")})
	}
	if len(errs) > 0 {
		return bundle{}, warns, errors.Join(errs...)
	}
	b.policies = policies
	return b, warns, nil
}

// load decodes one file, maps its native documents and keeps its OpenSLO
// documents for finish. Documents after a YAML syntax error cannot be
// read, but those before it are still checked, so their problems show up
// in the same run.
func (c *collector) load(name string, data []byte) {
	if c.zones == nil {
		c.zones = map[string]*time.Location{}
	}
	r := &report{file: name, zones: c.zones}
	f := &fileLoad{name: name, r: r}
	c.files = append(c.files, f)
	defer func() { f.nativeWarns = len(r.warns) }()
	if len(data) > MaxFileSize {
		r.add(&Error{File: name, Err: fmt.Errorf("file is larger than %d KiB, the limit for a spec file", MaxFileSize>>10)})
		return
	}
	docs, err := decode(name, data)
	var native []indexed
	for i, doc := range docs {
		switch r.format(doc) {
		case formatNative:
			native = append(native, indexed{doc, i})
		case formatOpenSLO:
			c.openSLO.add(r, doc, i)
		}
	}
	f.slos = nativeLoader{}.load(r, native)
	if err != nil {
		r.add(err)
	} else if len(docs) == 0 {
		r.add(&Error{File: name, Err: errors.New("no SLO in file; want a YAML document with name, service, sli, objective and window")})
	}
}

// fail records a file that could not be read.
func (c *collector) fail(name string, err error) {
	c.files = append(c.files, &fileLoad{name: name, failed: &Error{File: name, Err: err}})
}

// indexed is a document with its place in its file.
type indexed struct {
	node  *yaml.Node
	order int
}

// decode splits data into its YAML documents, leaving out empty ones (a
// leading or trailing "---" makes those). It returns the content node of
// each document, which is what loaders walk.
func decode(file string, data []byte) (docs []*yaml.Node, err *Error) {
	// yaml.v3 reports its own errors by panicking and recovering inside
	// the package; any panic that escapes is a parser bug, and a bad spec
	// must not take the process down with it.
	defer func() {
		if v := recover(); v != nil {
			err = &Error{File: file, Err: fmt.Errorf("not valid YAML: the YAML parser failed: %v", v)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		e := dec.Decode(&doc)
		if e == io.EOF {
			return docs, nil
		}
		if e != nil {
			return docs, syntaxError(file, data, e)
		}
		if len(doc.Content) != 1 {
			continue
		}
		n := resolve(doc.Content[0])
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue
		}
		docs = append(docs, n)
	}
}

// syntaxError turns yaml.v3's "yaml: line N: problem" into an Error at
// line N. yaml.v3 (v3.0.1) counts lines from 1 for scanner errors but from
// 0 for parser errors, and leaves the line out when it is the first; it
// never reports a column. Errors raised while building nodes, such as an
// unknown anchor, carry no line at all.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				line, msg = n, tail
				if slices.Contains(parserProblems, msg) {
					line++
				}
			}
		}
	} else if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		line = aliasLine(data, strings.TrimSuffix(name, "' referenced"))
	}
	return &Error{File: file, Line: line, Err: errors.New("not valid YAML: " + msg)}
}

// aliasLine guesses the line of the first alias *name, or returns 0; the
// guess can be fooled by the same text inside a quoted string.
func aliasLine(data []byte, name string) int {
	alias := []byte("*" + name)
	for i := 0; ; {
		j := bytes.Index(data[i:], alias)
		if j < 0 {
			return 0
		}
		end := i + j + len(alias)
		if end == len(data) || bytes.IndexByte([]byte(" \t\r\n,]}"), data[end]) >= 0 {
			return 1 + bytes.Count(data[:i+j], []byte("\n"))
		}
		i = end
	}
}

// parserProblems are the messages of yaml.v3's parser, as opposed to its
// scanner, whose line numbers are one short.
var parserProblems = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"found undefined tag handle",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}
