"""The Starlette flavor's sample app: a few routes, one with a path parameter."""

import platform

import starlette
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        f"Hello world! From Starlette running on Uvicorn with Gunicorn. Using Python {platform.python_version()}\n"
    )


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"starlette": starlette.__version__})


async def user(request: Request) -> JSONResponse:
    return JSONResponse({"username": request.path_params["username"]})


app = Starlette(
    routes=[
        Route("/", homepage),
        Route("/version", version),
        Route("/users/{username}", user),
    ]
)
