"""Gold transforms: the transforms folder (project), its order (dag), what a run rebuilds (plan),
the files it writes (build), the manifest entry and run log it publishes (publish), a whole
`transform run` (run), and the checks `dataspoc-lens test` runs (checks)."""
