"""Tools for the people who work on the project, not part of the build system: the benchmarks
(`nox -s bench`), the set-up script tried on fresh hosts and virtual machines (`nox -s hosts`,
`nox -s vms`), the GitHub workflows run with act (`nox -s workflows`), and the local registry
and server probes the image tests use too.

May import anything of `bake` and any pinned tool; nothing in `bake` imports it."""
