"""`python app.py [--host 127.0.0.1] [--port 7860]`: the chat page at / and the REST API at /api (docs at /docs)."""

import sys


def main() -> int:
    from rag.settings import apply_process_defaults

    apply_process_defaults()  # before gradio, chromadb and transformers are imported
    from rag.server import main as serve

    return serve(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
