package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestQueryPlans explains every statement the store prepares, taken from
// the list Open prepares them from, and fails on a plan that reads a
// table whole or sorts rows, unless the statement says that is its
// purpose (every SLO for the list) or a small sort (one incident's
// entries): a schema change that loses an index, or a statement added
// without one, fails here instead of slowing nines down as tables grow.
// A reason that no longer applies fails too, so the reasons stay true.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	conn, err := db.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tables := map[string]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables[name] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	list := statements()
	if len(list) < 60 {
		t.Fatalf("%d statements listed; the store runs more", len(list))
	}
	for _, st := range list {
		name := strings.Join(strings.Fields(st.sql), " ")
		t.Run(name[:min(len(name), 90)], func(t *testing.T) {
			query := "EXPLAIN QUERY PLAN " + st.sql
			args := make([]any, numInput(t, st.sql))
			for i := range args {
				args[i] = sql.NullInt64{}
			}
			rows, err := conn.QueryContext(ctx, query, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			var scans, sorts []string
			for _, d := range plan {
				if f := strings.Fields(d); len(f) >= 2 && f[0] == "SCAN" && tables[f[1]] {
					scans = append(scans, d)
				}
				if strings.Contains(d, "TEMP B-TREE") {
					sorts = append(sorts, d)
				}
			}
			text := strings.Join(plan, "\n")
			t.Logf("plan:\n%s", text)
			switch {
			case len(scans) > 0 && st.scans == "":
				t.Errorf("plan reads a table without an index bound (%s):\n%s", strings.Join(scans, "; "), text)
			case len(scans) == 0 && st.scans != "":
				t.Errorf("says it scans (%q), but the plan finds its rows by index: remove the reason\n%s", st.scans, text)
			}
			switch {
			case len(sorts) > 0 && st.sorts == "":
				t.Errorf("plan sorts (%s):\n%s", strings.Join(sorts, "; "), text)
			case len(sorts) == 0 && st.sorts != "":
				t.Errorf("says it sorts (%q), but the plan does not: remove the reason\n%s", st.sorts, text)
			}
		})
	}
}

// numInput is the number of parameters of query, numbered as SQLite
// numbers them: ?N is N, and a bare ? one more than the largest so far.
// (The driver does not tell: its NumInput is -1.)
func numInput(t *testing.T, query string) int {
	t.Helper()
	largest := 0
	quoted := false
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n := largest + 1
			if j > i+1 {
				var err error
				if n, err = strconv.Atoi(query[i+1 : j]); err != nil {
					t.Fatal(err)
				}
			}
			largest = max(largest, n)
			i = j - 1
		}
	}
	return largest
}

// Every statement is in the list TestQueryPlans checks: SQL written in
// place anywhere else in the package would escape it.
func TestNoSQLOutsideTheList(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		// stmts.go is the list; schema.go runs the migrations, once.
		if strings.HasSuffix(file, "_test.go") || file == "stmts.go" || file == "schema.go" {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, file, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			// Statements are written in capitals here; log messages
			// ("delete annotation 7") are not.
			switch strings.Fields(v + " x")[0] {
			case "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH":
				t.Errorf("%s: SQL outside the statement list in stmts.go: %s", fset.Position(lit.Pos()), fmt.Sprintf("%.60q", v))
			}
			return true
		})
	}
}
