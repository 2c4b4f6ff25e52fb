package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// jsonList is an answer {"<key>": [items…]} that writeJSON writes an item
// at a time, in the same bytes as encoding/json's indented form of
// map[string]any{key: items}. A list of 10,000 SLOs is 4 MiB of JSON:
// encoded whole and then indented, it was two growing buffers of that
// size and most of the answer's time.
type jsonList[T any] struct {
	key   string
	items []T
}

// streamedJSON is an answer that writes its own indented JSON.
type streamedJSON interface {
	writeIndentedJSON(w io.Writer) error
}

func (l jsonList[T]) writeIndentedJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	key, err := json.Marshal(l.key)
	if err != nil {
		return err
	}
	bw.WriteString("{\n  ")
	bw.Write(key)
	if len(l.items) == 0 {
		bw.WriteString(": []\n}\n")
		return bw.Flush()
	}
	bw.WriteString(": [\n")
	var compact, indented bytes.Buffer
	enc := json.NewEncoder(&compact)
	for i := range l.items {
		compact.Reset()
		if err := enc.Encode(&l.items[i]); err != nil {
			return err
		}
		indented.Reset()
		// Encode ends the value with a newline, which Indent keeps.
		if err := json.Indent(&indented, bytes.TrimSuffix(compact.Bytes(), []byte("\n")), "    ", "  "); err != nil {
			return err
		}
		bw.WriteString("    ")
		bw.Write(indented.Bytes())
		if i < len(l.items)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("  ]\n}\n")
	return bw.Flush()
}
