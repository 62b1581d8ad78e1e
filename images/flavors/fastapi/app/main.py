"""The FastAPI flavor's sample app: a path parameter, a pydantic body, OpenAPI docs at /docs."""

import platform

import fastapi
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="uvicorn-gunicorn-fastapi sample")


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/")
async def root() -> dict[str, str]:
    return {
        "message": "Hello world! From FastAPI running on Uvicorn with Gunicorn. "
        f"Using Python {platform.python_version()}",
        "fastapi": fastapi.__version__,
    }


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, int | str | None]:
    return {"item_id": item_id, "q": q}


@app.post("/items/")
async def create_item(item: Item) -> Item:
    return item
