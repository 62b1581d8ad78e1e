# Generated from images/matrix.toml for 2026-11-24 by `nox -s generate`: edit that file, not this one.
# It defines the versions supported on that date. It names no image: `nox -s build` gives
# each target its tags (IMAGE_NAME, DATE) from the matrix of its own build date, in a bake
# file of its own merged over this one, so `latest` follows the default version.

# The CA bundle pip trusts inside builds. It is a secret so that it never enters a layer.
variable "CA_BUNDLE" {
  default = "/etc/ssl/certs/ca-certificates.crt"
}

# The SBOM generator image (BuildKit's SBOM generator protocol). `nox -s build` sets it to the
# project's own (bake/engine/sbom_scan), built in the local image store; empty: no SBOM.
variable "SBOM_GENERATOR" {
  default = ""
}

# A registry repository holding the build cache, one cache tag per image tag (for example
# ghcr.io/acme/uvicorn-gunicorn-cache): a runner that starts with an empty engine then reuses
# every unchanged layer. Empty: only the engine's own cache is used.
variable "CACHE_REF" {
  default = ""
}

# Write the cache back after building (runs that publish), not only read it (pull requests).
variable "CACHE_EXPORT" {
  default = false
}

function "cache_from" {
  params = [tag]
  result = CACHE_REF == "" ? [] : ["type=registry,ref=${CACHE_REF}:${tag}"]
}

function "cache_to" {
  params = [tag]
  result = CACHE_REF != "" && CACHE_EXPORT ? ["type=registry,ref=${CACHE_REF}:${tag},mode=max"] : []
}

group "default" {
  targets = ["python3_11", "python3_11-slim", "python3_12", "python3_12-slim", "python3_13", "python3_13-slim", "python3_14", "python3_14-slim", "python3_15", "python3_15-slim", "fastapi-python3_11", "fastapi-python3_11-slim", "fastapi-python3_12", "fastapi-python3_12-slim", "fastapi-python3_13", "fastapi-python3_13-slim", "fastapi-python3_14", "fastapi-python3_14-slim", "fastapi-python3_15", "fastapi-python3_15-slim", "starlette-python3_11", "starlette-python3_11-slim", "starlette-python3_12", "starlette-python3_12-slim", "starlette-python3_13", "starlette-python3_13-slim", "starlette-python3_14", "starlette-python3_14-slim", "starlette-python3_15", "starlette-python3_15-slim"]
}

# What every image of the family is built with: the repository as context, pip's CA bundle,
# provenance and (with a generator) an SBOM.
target "_built" {
  context = "."
  secret  = ["type=file,id=pip-ca,src=${CA_BUNDLE}"]
  attest = concat(
    ["type=provenance,mode=max"],
    SBOM_GENERATOR == "" ? [] : ["type=sbom,generator=${SBOM_GENERATOR}"],
  )
}

target "_image" {
  inherits   = ["_built"]
  dockerfile = "images/Dockerfile"
}

# A flavor: its framework on a base tag, built FROM that tag's target (a named context), so
# one bake builds base and flavor in order and a change to the base rebuilds the flavor. Its
# framework is installed FROM the tag's python base (BASE_IMAGE), natively: see the Dockerfile.
target "_flavor" {
  inherits   = ["_built"]
  dockerfile = "images/flavors/Dockerfile"
}

target "python3_11" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11"
    PYTHON_VERSION = "3.11"
  }
  cache-from = cache_from("python3.11")
  cache-to   = cache_to("python3.11")
}

target "python3_11-slim" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11-slim"
    PYTHON_VERSION = "3.11"
  }
  cache-from = cache_from("python3.11-slim")
  cache-to   = cache_to("python3.11-slim")
}

target "python3_12" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.12"
    PYTHON_VERSION = "3.12"
  }
  cache-from = cache_from("python3.12")
  cache-to   = cache_to("python3.12")
}

target "python3_12-slim" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.12-slim"
    PYTHON_VERSION = "3.12"
  }
  cache-from = cache_from("python3.12-slim")
  cache-to   = cache_to("python3.12-slim")
}

target "python3_13" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.13"
    PYTHON_VERSION = "3.13"
  }
  cache-from = cache_from("python3.13")
  cache-to   = cache_to("python3.13")
}

target "python3_13-slim" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.13-slim"
    PYTHON_VERSION = "3.13"
  }
  cache-from = cache_from("python3.13-slim")
  cache-to   = cache_to("python3.13-slim")
}

target "python3_14" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.14"
    PYTHON_VERSION = "3.14"
  }
  cache-from = cache_from("python3.14")
  cache-to   = cache_to("python3.14")
}

target "python3_14-slim" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.14-slim"
    PYTHON_VERSION = "3.14"
  }
  cache-from = cache_from("python3.14-slim")
  cache-to   = cache_to("python3.14-slim")
}

target "python3_15" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.15"
    PYTHON_VERSION = "3.15"
  }
  cache-from = cache_from("python3.15")
  cache-to   = cache_to("python3.15")
}

target "python3_15-slim" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.15-slim"
    PYTHON_VERSION = "3.15"
  }
  cache-from = cache_from("python3.15-slim")
  cache-to   = cache_to("python3.15-slim")
}

target "fastapi-python3_11" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_11" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11"
    PYTHON_VERSION = "3.11"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.11")
  cache-to   = cache_to("fastapi-python3.11")
}

target "fastapi-python3_11-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_11-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11-slim"
    PYTHON_VERSION = "3.11"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.11-slim")
  cache-to   = cache_to("fastapi-python3.11-slim")
}

target "fastapi-python3_12" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_12" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.12"
    PYTHON_VERSION = "3.12"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.12")
  cache-to   = cache_to("fastapi-python3.12")
}

target "fastapi-python3_12-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_12-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.12-slim"
    PYTHON_VERSION = "3.12"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.12-slim")
  cache-to   = cache_to("fastapi-python3.12-slim")
}

target "fastapi-python3_13" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_13" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.13"
    PYTHON_VERSION = "3.13"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.13")
  cache-to   = cache_to("fastapi-python3.13")
}

target "fastapi-python3_13-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_13-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.13-slim"
    PYTHON_VERSION = "3.13"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.13-slim")
  cache-to   = cache_to("fastapi-python3.13-slim")
}

target "fastapi-python3_14" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_14" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.14"
    PYTHON_VERSION = "3.14"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.14")
  cache-to   = cache_to("fastapi-python3.14")
}

target "fastapi-python3_14-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_14-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.14-slim"
    PYTHON_VERSION = "3.14"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.14-slim")
  cache-to   = cache_to("fastapi-python3.14-slim")
}

target "fastapi-python3_15" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_15" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.15"
    PYTHON_VERSION = "3.15"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.15")
  cache-to   = cache_to("fastapi-python3.15")
}

target "fastapi-python3_15-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_15-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.15-slim"
    PYTHON_VERSION = "3.15"
    FLAVOR         = "fastapi"
    REQUIREMENTS   = "fastapi==0.165.0"
  }
  cache-from = cache_from("fastapi-python3.15-slim")
  cache-to   = cache_to("fastapi-python3.15-slim")
}

target "starlette-python3_11" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_11" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11"
    PYTHON_VERSION = "3.11"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.11")
  cache-to   = cache_to("starlette-python3.11")
}

target "starlette-python3_11-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_11-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11-slim"
    PYTHON_VERSION = "3.11"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.11-slim")
  cache-to   = cache_to("starlette-python3.11-slim")
}

target "starlette-python3_12" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_12" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.12"
    PYTHON_VERSION = "3.12"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.12")
  cache-to   = cache_to("starlette-python3.12")
}

target "starlette-python3_12-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_12-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.12-slim"
    PYTHON_VERSION = "3.12"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.12-slim")
  cache-to   = cache_to("starlette-python3.12-slim")
}

target "starlette-python3_13" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_13" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.13"
    PYTHON_VERSION = "3.13"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.13")
  cache-to   = cache_to("starlette-python3.13")
}

target "starlette-python3_13-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_13-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.13-slim"
    PYTHON_VERSION = "3.13"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.13-slim")
  cache-to   = cache_to("starlette-python3.13-slim")
}

target "starlette-python3_14" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_14" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.14"
    PYTHON_VERSION = "3.14"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.14")
  cache-to   = cache_to("starlette-python3.14")
}

target "starlette-python3_14-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_14-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.14-slim"
    PYTHON_VERSION = "3.14"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.14-slim")
  cache-to   = cache_to("starlette-python3.14-slim")
}

target "starlette-python3_15" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_15" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.15"
    PYTHON_VERSION = "3.15"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.15")
  cache-to   = cache_to("starlette-python3.15")
}

target "starlette-python3_15-slim" {
  inherits  = ["_flavor"]
  contexts  = { base = "target:python3_15-slim" }
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.15-slim"
    PYTHON_VERSION = "3.15"
    FLAVOR         = "starlette"
    REQUIREMENTS   = "starlette==1.10.0"
  }
  cache-from = cache_from("starlette-python3.15-slim")
  cache-to   = cache_to("starlette-python3.15-slim")
}
