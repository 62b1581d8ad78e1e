"""Releasing to a registry: plans, publication and staging, merged indexes, date tags, cosign
signatures, attestations, the Docker Hub description.

May import `bake.engine`, `bake.core`, the top-level `bake.errors`/`bake.paths`/`bake.progress`,
python-on-whales and requests; never the command line or `devtools`. `bake.release.plan` and
`bake.release.wait_for_ci` run on a bare runner: they import the standard library and
`bake.core` only (the registry they read through `bake.core.registry_reader`)."""
