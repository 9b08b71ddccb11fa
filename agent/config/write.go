package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// SetKeys writes values (by dotted key, e.g. "relay.url") into the YAML
// config file at path, creating it if needed. The technician's file is
// kept as it was, byte for byte (comments, blank lines, order, keys this
// version does not know) except for the values set: it is edited as text,
// at the places the YAML parser found the keys, rather than re-encoded,
// which would lose blank lines and move comments. A key not in the file is
// added at the end of its section. The file is replaced atomically.
func SetKeys(path string, values map[string]string) error {
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys) // new keys are added in a stable order
	text := raw
	for _, key := range keys {
		text, err = setKey(text, key, values[key])
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	// The edit is textual: check the result says what was meant.
	var check map[string]any
	if err := yaml.Unmarshal(text, &check); err != nil {
		return fmt.Errorf("%s: the edited file does not parse (nothing written): %w", path, err)
	}
	for _, key := range keys {
		if got, ok := lookupPath(check, key); !ok || fmt.Sprint(got) != values[key] {
			return fmt.Errorf("%s: could not set %s (nothing written); edit it by hand", path, key)
		}
	}
	return writeAtomic(path, text)
}

// setKey sets one dotted key in the YAML text and returns the new text.
func setKey(text []byte, key, value string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	nl := "\n"
	if bytes.Contains(text, []byte("\r\n")) {
		nl = "\r\n" // a file saved by Notepad stays in its line endings
	}
	lines := strings.SplitAfter(string(text), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // empty file, or only comments
		return []byte(strings.Join(lines, "") + ensureNL(lines, nl) + newBlock(strings.Split(key, "."), value, 0, nl)), nil
	}
	node := doc.Content[0]
	if node.Kind != yaml.MappingNode {
		return nil, errors.New("the top level is not a mapping of keys")
	}
	parts := strings.Split(key, ".")
	for i, part := range parts {
		k, v := lookup(node, part)
		last := i == len(parts)-1
		switch {
		case k == nil:
			// Add the rest of the key at the end of this mapping.
			indent := node.Content[0].Column - 1
			at := endLine(lines, node)
			block := newBlock(parts[i:], value, indent, nl)
			return []byte(strings.Join(lines[:at], "") + ensureNL(lines[:at], nl) + block + strings.Join(lines[at:], "")), nil
		case last:
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s is not a single value", key)
			}
			return replaceScalar(lines, k, v, value)
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			// "lan:" with nothing under it yet.
			at := k.Line
			block := newBlock(parts[i+1:], value, k.Column-1+2, nl)
			return []byte(strings.Join(lines[:at], "") + ensureNL(lines[:at], nl) + block + strings.Join(lines[at:], "")), nil
		case v.Kind != yaml.MappingNode || v.Style&yaml.FlowStyle != 0:
			return nil, fmt.Errorf("%s is not a section of keys one per line", strings.Join(parts[:i+1], "."))
		}
		node = v
	}
	return nil, fmt.Errorf("empty key %q", key)
}

// replaceScalar replaces the value token of k: v in place: what comes
// before and after it on its line (spacing, a trailing comment) stays.
func replaceScalar(lines []string, k, v *yaml.Node, value string) ([]byte, error) {
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, fmt.Errorf("%s is a multi-line value: edit it by hand", k.Value)
	}
	row := k.Line - 1
	line := lines[row]
	var start int
	if v.Line == k.Line && !(v.Tag == "!!null" && v.Value == "") {
		start = byteOffset(line, v.Column-1)
	} else if v.Line == k.Line || v.Line == 0 || v.Value == "" {
		// "key:" with no value: it goes after the colon.
		colon := strings.IndexByte(line[byteOffset(line, k.Column-1):], ':')
		if colon < 0 {
			return nil, fmt.Errorf("%s: cannot find its colon", k.Value)
		}
		start = byteOffset(line, k.Column-1) + colon + 1
		enc := " " + encodeScalar(value, 0)
		lines[row] = line[:start] + enc + line[start:]
		return []byte(strings.Join(lines, "")), nil
	} else {
		row = v.Line - 1
		line = lines[row]
		start = byteOffset(line, v.Column-1)
	}
	end := start + tokenLen(line[start:])
	if end <= start && v.Value != "" || strings.Contains(line[start:end], "\n") {
		return nil, fmt.Errorf("%s: cannot find its value on one line: edit it by hand", k.Value)
	}
	lines[row] = line[:start] + encodeScalar(value, v.Style) + line[end:]
	return []byte(strings.Join(lines, "")), nil
}

// tokenLen is the length of the scalar token at the start of s: a quoted
// string up to its closing quote, or a plain one up to a comment or the
// end of the line.
func tokenLen(s string) int {
	switch {
	case strings.HasPrefix(s, `"`):
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			case '\n':
				return -1
			}
		}
		return -1
	case strings.HasPrefix(s, "'"):
		for i := 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
			if s[i] == '\n' {
				return -1
			}
		}
		return -1
	}
	end := len(strings.TrimRight(s, "\r\n"))
	if i := strings.Index(s[:end], " #"); i >= 0 {
		end = i
	}
	if i := strings.Index(s[:end], "\t#"); i >= 0 {
		end = i
	}
	return len(strings.TrimRight(s[:end], " \t"))
}

// encodeScalar is value as a YAML scalar: in double quotes if the old one
// was, plain where YAML allows it, quoted where a plain one would read as
// something else (a PIN like 012345 is a string, not a number).
func encodeScalar(value string, style yaml.Style) string {
	n := yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	if style&yaml.DoubleQuotedStyle != 0 {
		n.Style = yaml.DoubleQuotedStyle
	}
	out, err := yaml.Marshal(&n)
	if err != nil || bytes.Count(out, []byte("\n")) > 1 {
		out, _ = yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, Style: yaml.DoubleQuotedStyle})
	}
	return strings.TrimSuffix(string(out), "\n")
}

// newBlock is the lines of a new key path, nested from indent.
func newBlock(parts []string, value string, indent int, nl string) string {
	var b strings.Builder
	for i, part := range parts {
		b.WriteString(strings.Repeat(" ", indent+2*i) + part + ":")
		if i == len(parts)-1 {
			b.WriteString(" " + encodeScalar(value, 0))
		}
		b.WriteString(nl)
	}
	return b.String()
}

// endLine is the index of the line after the last one of mapping m: after
// its last node, the deeper-indented lines that continue it and the
// comments indented like its keys (a commented-out example key stays just
// above the real one), but before a blank line or an outdented comment.
func endLine(lines []string, m *yaml.Node) int {
	last := maxLine(m) // 1-based: the index of the line after it
	indent := m.Content[0].Column - 1
	for last < len(lines) {
		l := strings.TrimRight(lines[last], "\r\n")
		trimmed := strings.TrimLeft(l, " ")
		lineIndent := len(l) - len(trimmed)
		comment := strings.HasPrefix(trimmed, "#")
		if trimmed == "" || !comment && lineIndent <= indent || comment && (indent == 0 || lineIndent < indent) {
			break
		}
		last++
	}
	return last
}

func maxLine(n *yaml.Node) int {
	m := n.Line
	for _, c := range n.Content {
		m = max(m, maxLine(c))
	}
	return m
}

func ensureNL(lines []string, nl string) string {
	if len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") {
		return nl
	}
	return ""
}

// byteOffset is the byte index of the col-th character of line (yaml
// counts columns in characters).
func byteOffset(line string, col int) int {
	i := 0
	for range col {
		if i >= len(line) {
			break
		}
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
	}
	return i
}

func lookup(mapping *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i], mapping.Content[i+1]
		}
	}
	return nil, nil
}

func lookupPath(m map[string]any, key string) (any, bool) {
	var cur any = m
	for part := range strings.SplitSeq(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// writeAtomic replaces path with data. A new file gets mode 0640 (it holds
// secrets); a replaced one keeps its mode, owner and group, so the
// service's user can still read what root rewrote.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".agent-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	mode := os.FileMode(0o640)
	old, statErr := os.Stat(path)
	if statErr == nil {
		mode = old.Mode().Perm()
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if statErr == nil {
		if err := keepOwner(tmp, old); err != nil {
			tmp.Close()
			return fmt.Errorf("keep the owner of %s: %w", path, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
