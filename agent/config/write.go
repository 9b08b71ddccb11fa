package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SetKeys writes values (by dotted key, e.g. "relay.url") into the YAML
// config file at path, creating it if needed, and keeps every other key
// and every comment as they were. The file is replaced atomically.
func SetKeys(path string, values map[string]string) error {
	var doc yaml.Node
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: the top level is not a mapping of keys", path)
	}
	for key, value := range values {
		node := root
		parts := strings.Split(key, ".")
		for i, part := range parts {
			child := lookup(node, part)
			if child == nil {
				kind := yaml.MappingNode
				if i == len(parts)-1 {
					kind = yaml.ScalarNode
				}
				child = &yaml.Node{Kind: kind}
				node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: part}, child)
			}
			if i == len(parts)-1 {
				*child = yaml.Node{Kind: yaml.ScalarNode, Value: value, LineComment: child.LineComment, HeadComment: child.HeadComment}
			} else if child.Kind != yaml.MappingNode {
				return fmt.Errorf("%s: %s is not a mapping", path, strings.Join(parts[:i+1], "."))
			}
			node = child
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeAtomic(path, out.Bytes())
}

// writeAtomic replaces path with data. A new file gets mode 0640 (it holds
// secrets); a replaced one keeps its mode, owner and group, so the
// service's user can still read what root rewrote.

func lookup(mapping *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i+1]
		}
	}
	return nil
}

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
