# Generated from images/matrix.toml by `nox -s generate`: edit that file, not this one.

variable "IMAGE_NAME" {
  default = "uvicorn-gunicorn"
}

# The build date, YYYY-MM-DD, fixed once per run; empty means no date tags.
variable "DATE" {
  default = ""
}

# The CA bundle pip trusts inside builds. It is a secret so that it never enters a layer.
variable "CA_BUNDLE" {
  default = "/etc/ssl/certs/ca-certificates.crt"
}

function "references" {
  params = [moving, dated]
  result = concat(
    [for name in moving : "${IMAGE_NAME}:${name}"],
    DATE == "" ? [] : [for name in dated : "${IMAGE_NAME}:${name}"],
  )
}

group "default" {
  targets = ["python3_11-slim"]
}

target "_image" {
  context    = "."
  dockerfile = "images/Dockerfile"
  secret     = ["type=file,id=pip-ca,src=${CA_BUNDLE}"]
}

target "python3_11-slim" {
  inherits  = ["_image"]
  platforms = ["linux/amd64", "linux/arm64"]
  args = {
    BASE_IMAGE     = "python:3.11-slim"
    PYTHON_VERSION = "3.11"
  }
  tags = references(["python3.11-slim"], ["python3.11-slim-${DATE}"])
}
