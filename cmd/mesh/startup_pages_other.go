//go:build !linux

package main

import "github.com/rs/zerolog"

// dropStartupPages does nothing but on Linux, where the node runs in
// production (see startup_pages_linux.go).
func dropStartupPages(zerolog.Logger) {}
