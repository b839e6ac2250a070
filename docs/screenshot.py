"""Takes the README's screenshots: the chat page over the shipped corpus, one question answered, its source open;
then the Documents tab (the indexed documents, the upload and delete controls).

    python -m ingest corpus/                       # the index the app serves (make run builds it too)
    python docs/screenshot.py [--question "..."] [--out docs/screenshot.png] [--documents-out docs/documents.png]

Serves the real app on 127.0.0.1 and drives Debian's Chromium headless (Playwright; no browser download).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # app.py, the entry point, beside docs/

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
QUESTION = "What is Alem.ai?"  # answered by the shipped scorer; "When was the AI law signed?" is declined today (issue 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "screenshot.png")
    parser.add_argument("--documents-out", type=Path, default=Path(__file__).resolve().parent / "documents.png")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    parser.add_argument("--port", type=int, default=7871)
    args = parser.parse_args()
    from rag.settings import apply_process_defaults

    apply_process_defaults()
    import uvicorn
    from playwright.sync_api import sync_playwright

    from app import build_ingester  # the app's own assembly: uploads on, as `python app.py` serves them
    from rag import Assistant, Settings
    from rag.server import create_app

    settings = Settings()
    assistant = Assistant(settings)
    documents = assistant.stats()["documents"]
    if not documents:
        print(f"error: the index at {settings.index_dir} is empty: run `python -m ingest corpus/` first", file=sys.stderr)
        return 2
    assistant.warm_up()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant, ingester=build_ingester(settings, assistant)), host="127.0.0.1", port=args.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            print(f"error: the app did not start on port {args.port}", file=sys.stderr)
            return 2
        time.sleep(0.05)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.fill("#kz-question textarea", args.question)
            page.keyboard.press("Enter")
            page.wait_for_selector("#kz-sources #turn-1", state="attached", timeout=30_000)
            first = page.locator("#kz-chat .bot").last.locator('a.kz-cite[href="#cite-1-1"]')
            if first.count():
                first.click()  # open the first source with the quoted span highlighted
                page.wait_for_function("!document.querySelector('.kz-flash')")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            page.get_by_role("tab", name="Documents").click()
            page.wait_for_selector("#kz-docs-table", state="visible", timeout=30_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.documents_out), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"{args.out}: the chat over {documents} documents, asked {args.question!r}; {args.documents_out}: the Documents tab")
    return 0


if __name__ == "__main__":
    sys.exit(main())
