"""Driving the container engine: the matrix turned into docker-bake.hcl and the README's tag
sections, the stand-in base images, the SBOM generator, builds.

May import `bake.core`, the top-level `bake.errors`/`bake.paths`/`bake.progress`, the standard
library, python-on-whales and jinja2; never `bake.release`, the command line or `devtools`."""
