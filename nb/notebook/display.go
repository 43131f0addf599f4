package notebook

import "github.com/janpfeifer/gonb/gonbui"

// Notebook cells should import only clipkit packages (and the standard library): GoNB runs
// `go get` for any other import the cell's temporary go.mod does not list, and the module proxy
// refuses the version-list look-up that needs for some modules (GoNB's own among them). These
// wrappers give cells GoNB's display functions through this package. All are no-ops outside a
// notebook.

// DisplayHTML shows html as a cell output (kept in the saved notebook and in exported HTML). It
// waits until GoNB has taken the output (gonbui.Sync): a cell program that exits right after a
// display could otherwise lose it (seen with conclusion cells, whose last call is a display).
func DisplayHTML(html string) {
	gonbui.DisplayHTML(html)
	gonbui.Sync()
}

// DisplayMarkdown shows Markdown (LaTeX allowed) as a cell output, waiting until GoNB has taken it
// (see DisplayHTML).
func DisplayMarkdown(md string) {
	gonbui.DisplayMarkdown(md)
	gonbui.Sync()
}

// UpdateHTML shows html in a block identified by id, replacing what an earlier call with the same
// id showed (e.g. a status line). Such blocks are transient: clear them with "" and DisplayHTML
// what should stay.
func UpdateHTML(id, html string) { gonbui.UpdateHTML(id, html) }

// UniqueID returns a new id for UpdateHTML.
func UniqueID() string { return gonbui.UniqueId() }
