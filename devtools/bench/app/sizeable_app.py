"""An application that imports something sizeable: many modules and a large table built at
import, as an application with a framework and data loaded at start does."""

import asyncio  # noqa: F401
import decimal  # noqa: F401
import email.mime.multipart  # noqa: F401
import http.server  # noqa: F401
import json  # noqa: F401
import multiprocessing  # noqa: F401
import pydoc  # noqa: F401
import sqlite3  # noqa: F401
import unittest  # noqa: F401
import xml.dom.minidom  # noqa: F401

from main import app  # noqa: F401  # the sample app serves

TABLE = {number: f"row {number}" for number in range(400_000)}
