"""The build system's core: the image matrix, references and tag names, selection, settings,
retirement, and the host facts (Debian mirror, CA bundle, daemon.json) set-up needs.

A bare `python3` runs it before any virtual environment exists (the release plan job on a bare
runner, `setup-host.sh`'s helpers), so every module here imports the standard library only,
besides `bake.errors`, `bake.paths` and `bake.progress`, and the other modules of this package."""
