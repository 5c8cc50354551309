// Package aggregator holds the aggregator page: static files that fetch
// every node's /state from the browser and draw the cluster. They are
// published as they are (GitHub Pages, any static host) and every node also
// serves them at /ui/, so there is no one place the page must live.
package aggregator

import (
	"embed"
	"net/http"
)

//go:embed index.html app.mjs mesh.mjs style.css
var files embed.FS

// Handler serves the page's files; mount it under a prefix with
// http.StripPrefix.
func Handler() http.Handler {
	return http.FileServerFS(files)
}
