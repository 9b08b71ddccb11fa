//go:build !unix

package config

import "os"

// keepOwner does nothing where files have no Unix owner (Windows keeps the
// folder's ACL).
func keepOwner(*os.File, os.FileInfo) error { return nil }
