"""Takes the README's screenshot: the chat page over the shipped corpus, one question answered, its source open.

    python -m ingest corpus/                       # the index the app serves (make run builds it too)
    python docs/screenshot.py [--question "..."] [--out docs/screenshot.png]

Serves the real app on 127.0.0.1 and drives Debian's Chromium headless (Playwright; no browser download).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
QUESTION = "When was the AI law signed?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "screenshot.png")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    parser.add_argument("--port", type=int, default=7871)
    args = parser.parse_args()
    from rag.settings import apply_process_defaults

    apply_process_defaults()
    import uvicorn
    from playwright.sync_api import sync_playwright

    from rag import Assistant, Settings
    from rag.server import create_app

    settings = Settings()
    assistant = Assistant(settings)
    documents = assistant.stats()["documents"]
    if not documents:
        print(f"error: the index at {settings.index_dir} is empty: run `python -m ingest corpus/` first", file=sys.stderr)
        return 2
    assistant.warm_up()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant), host="127.0.0.1", port=args.port,
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
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"{args.out}: the chat over {documents} documents, asked {args.question!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
