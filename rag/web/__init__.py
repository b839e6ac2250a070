"""The web front end: REST API (`rag.web.api`), Gradio chat (`rag.web.chat`), HTML rendering (`rag.web.render`).

from rag.web import create_app
app = create_app(Settings(), assistant)   # FastAPI: /api/*, /docs, and the chat at /
"""

from .server import create_app, main

__all__ = ["create_app", "main"]
