// Package config loads settings the same way for every casefleet binary:
// defaults, then a YAML file, then environment variables with a prefix
// (key "relay.url" reads PREFIX_RELAY_URL), then flags. Each binary keeps
// its own viper instance; nothing here is global.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/viper"
)

// New returns a viper instance that reads env vars named prefix + "_" +
// the key in upper case with '.' turned into '_'.
func New(envPrefix string) *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	return v
}

// ReadFile merges the YAML file at path into v. An empty path is not an
// error; a path that does not exist is, since someone named it.
func ReadFile(v *viper.Viper, path string) error {
	if path == "" {
		return nil
	}
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		var notFound viper.ConfigFileNotFoundError
		if errors.As(err, &notFound) || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist", path)
		}
		return fmt.Errorf("read config file %s: %w", path, err)
	}
	return nil
}

// HelpWanted reports whether -h or --help is among a command's arguments
// (before any "--"), which pflag answers with the usage and ErrHelp: the
// binaries then print the usage to standard output and exit 0.
func HelpWanted(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help":
			return true
		}
	}
	return false
}
