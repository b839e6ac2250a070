"""The Gradio chat page: conversation on the left, the sources of every answer on the right.

The per-session state is plain data (lists, dicts, strings), never engine objects:
`messages` (the Chatbot value), `turns` ([question, answer text] pairs for follow-ups), `sections`
(the sources panel's HTML per answer, closed), `latest` (the newest one, open), and `records`
(message index -> question/answer/citations, for thumbs up/down).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..answering.messages import spoken
from ..assistant import Assistant, clean_question
from ..errors import EmptyIndex, InvalidQuestion, RagError
from ..feedback import Feedback, FeedbackStore
from ..settings import Settings
from ..types import Answer
from ..upload_jobs import Uploads
from . import render
from .documents_view import build_documents_view

log = logging.getLogger(__name__)

TITLE = "Kazakhstan AI Strategy — Q&A"
EXAMPLES = (
    "When was the AI law signed?",
    "What is Alem.ai?",
    "Was sagte Tokayev am 11. August 2025 über KI?",
    "What does the AI law require?",
)
MAX_PANEL_TURNS = 12  # older answers' sources drop out of the panel (the chat keeps their text)

# The page's style and the script that runs once when it loads (a click on a `[n]` marker or a "related
# passages" link opens and scrolls to its source in the panel instead of navigating): static/chat.css, chat.js.
STATIC = Path(__file__).resolve().parent / "static"


def new_state() -> dict[str, Any]:
    return {"messages": [], "turns": [], "sections": [], "latest": "", "records": {}, "turn": 0}


def panel_html(state: dict[str, Any]) -> str:
    sections = list(state["sections"][-MAX_PANEL_TURNS:])  # newest last
    if sections and state.get("latest"):
        sections[-1] = state["latest"]
    return render.sources_panel(sections)


def _header(assistant: Assistant) -> str:
    try:
        stats = assistant.stats()
        badge = f'<span class="kz-stats">{stats["documents"]} documents · {stats["chunks"]} passages</span>'
    except RagError:
        badge = ""
    return (
        f'<div id="kz-header"><h1><span class="kz-sun">☀</span> {render.esc(TITLE)}</h1>'
        "<p>Answers are quoted from the source documents, each sentence with a citation you can open. "
        f"{spoken()}.{badge}</p></div>"
    )


class ChatHandlers:
    """The event handlers, kept apart from the layout so they can be called directly."""

    def __init__(self, assistant: Assistant, settings: Settings, feedback: FeedbackStore) -> None:
        self.assistant = assistant
        self.settings = settings
        self.feedback = feedback

    def respond(self, question: str, state: dict[str, Any] | None) -> Iterator[tuple[Any, Any, Any, Any]]:
        """Yields (chatbot messages, sources panel, state, textbox) as the answer streams in."""
        state = state or new_state()
        try:
            text = clean_question(question or "", self.settings.max_question_chars)
        except InvalidQuestion as exc:
            gr.Warning(render.esc(_sentence(str(exc))), title="Please check your question")
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        state["turn"] += 1
        turn = state["turn"]
        messages = state["messages"]
        messages.append({"role": "user", "content": render.md_escape(text)})
        messages.append({"role": "assistant", "content": '<span class="kz-muted">Searching the documents…</span>'})
        yield messages, gr.skip(), state, ""

        streamed = ""
        answer: Answer | None = None
        try:
            for item in self.assistant.stream(text, history=state["turns"]):
                if isinstance(item, Answer):
                    answer = item
                else:
                    streamed += item
                    messages[-1] = {"role": "assistant", "content": render.answer_markdown(streamed, turn, 99)}
                    yield messages, gr.skip(), state, gr.skip()
        except EmptyIndex as exc:
            messages[-1] = {
                "role": "assistant",
                "content": render.md_escape(f"The document index is not available: {exc}"),
            }
            yield messages, gr.skip(), state, gr.skip()
            return
        except InvalidQuestion as exc:
            messages[-1] = {"role": "assistant", "content": render.md_escape(_sentence(str(exc)))}
            yield messages, gr.skip(), state, gr.skip()
            return
        except Exception:
            log.exception("the chat could not answer %r", text[:200])
            messages[-1] = {
                "role": "assistant",
                "content": "Sorry, something went wrong while answering. Please try again.",
            }
            yield messages, gr.skip(), state, gr.skip()
            return
        if answer is None:  # the engine always ends with an Answer; be safe anyway
            return

        messages[-1] = {"role": "assistant", "content": render.chat_message(answer, turn)}
        state["records"][str(len(messages) - 1)] = {
            "question": answer.question or text,
            "answer": answer.text,
            "citations": [c.to_dict() for c in answer.citations],
            "grounded": answer.grounded,
        }
        state["turns"].append([text, answer.text])
        state["sections"] = [
            *state["sections"][-(MAX_PANEL_TURNS - 1) :],
            render.sources_section(answer, turn, latest=False),
        ]
        state["latest"] = render.sources_section(answer, turn, latest=True)
        yield messages, panel_html(state), state, gr.skip()

    def like(self, state: dict[str, Any] | None, data: gr.LikeData) -> None:
        """Thumbs up/down on an answer: stored with its question, answer and citations."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        record = (state or {}).get("records", {}).get(str(index))
        liked = data.liked if isinstance(data.liked, (bool, str)) else None
        rating = {True: 1, False: -1, "Like": 1, "Dislike": -1}.get(liked) if liked is not None else None
        if record is None or rating is None:  # a notice, or a thumb taken back
            return
        self.feedback.add(
            Feedback(
                rating=rating,
                question=record["question"],
                answer=record["answer"],
                citations=record["citations"],
                channel="web",
            )
        )
        gr.Info("Thanks for the feedback!" if rating > 0 else "Thanks, noted: this answer did not help.", duration=3)

    def clear(self) -> tuple[Any, Any, Any, Any]:
        return [], render.EMPTY_PANEL, new_state(), ""


def _sentence(message: str) -> str:
    message = message.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "." if message else message


def _footer(settings: Settings) -> str:
    """How answers are written, as the page's footer says it."""
    if settings.generator == "extractive":
        return "Extractive answers: every sentence is quoted from a document and cited."
    return "Answers written by a language model; every sentence is checked against the passage it cites."


def build_chat(assistant: Assistant, settings: Settings, feedback: FeedbackStore, uploads: Uploads | None = None) -> gr.Blocks:
    """The chat page (mount it with `mount_chat`, which adds its CSS, script and theme); with `uploads`, a
    Documents tab beside the chat."""
    handlers = ChatHandlers(assistant, settings, feedback)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        state = gr.State(new_state())
        gr.HTML(_header(assistant), js_on_load=None)
        with gr.Tabs(elem_id="kz-tabs"):
            with gr.Tab("Chat", elem_id="kz-chat-tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=7, min_width=420):
                        chatbot = gr.Chatbot(
                            elem_id="kz-chat",
                            show_label=False,
                            height=520,
                            layout="bubble",
                            buttons=["copy"],
                            latex_delimiters=[],
                            allow_tags=False,
                            sanitize_html=True,
                            feedback_options=("Like", "Dislike"),
                            placeholder=(
                                "<div style='text-align:center;color:#6b7280'><div style='font-size:2rem'>☀</div>"
                                "<strong>Ask about Kazakhstan's national AI strategy</strong><br>"
                                "laws, programmes, supercomputers, people and dates — answered from the documents.</div>"
                            ),
                        )
                        with gr.Row(equal_height=True, elem_id="kz-ask-row"):
                            question = gr.Textbox(
                                elem_id="kz-question",
                                placeholder="Ask a question, e.g. When was the AI law signed?",
                                show_label=False,
                                lines=1,
                                max_lines=6,
                                scale=1,
                                autofocus=True,
                                submit_btn=False,
                                container=False,
                            )
                            send = gr.Button("Ask", variant="primary", scale=0, min_width=96, elem_id="kz-send")
                            clear = gr.Button("New chat", variant="secondary", scale=0, min_width=120, elem_id="kz-clear")
                        with gr.Row(elem_id="kz-examples"):
                            gr.HTML('<span class="kz-try">Try</span>', js_on_load=None, elem_classes="kz-try-wrap")
                            example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                    with gr.Column(scale=5, min_width=340, elem_id="kz-sources-col"):
                        gr.HTML('<div id="kz-sources-title">Sources</div>', js_on_load=None)
                        sources = gr.HTML(render.EMPTY_PANEL, elem_id="kz-sources", js_on_load=None)
                gr.HTML(
                    f'<div id="kz-footer">{_footer(settings)} REST API: <a href="/docs" target="_blank">/docs</a></div>',
                    js_on_load=None,
                )
            if uploads is not None:
                with gr.Tab("Documents", elem_id="kz-documents-tab") as documents_tab:
                    build_documents_view(uploads, settings, documents_tab)  # rag/web/documents_view.py

        outputs = [chatbot, sources, state, question]
        common = {"outputs": outputs, "api_visibility": "private", "show_progress": "hidden"}
        question.submit(handlers.respond, [question, state], **common)
        send.click(handlers.respond, [question, state], **common)
        for button, text in zip(example_buttons, EXAMPLES):
            button.click(_fixed(handlers, text), [state], **common)
        clear.click(handlers.clear, None, outputs, api_visibility="private")
        chatbot.clear(handlers.clear, None, outputs, api_visibility="private")  # the chat's own trash icon
        chatbot.like(handlers.like, [state], None, api_visibility="private")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


def _fixed(handlers: ChatHandlers, text: str):  # type: ignore[no-untyped-def]
    def ask_example(state: dict[str, Any] | None) -> Iterator[tuple[Any, Any, Any, Any]]:
        yield from handlers.respond(text, state)

    return ask_example


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue=gr.themes.colors.cyan,
        secondary_hue=gr.themes.colors.amber,
        neutral_hue=gr.themes.colors.slate,
        font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "DejaVu Sans", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "DejaVu Sans Mono", "monospace"],
    )


def mount_chat(app: Any, blocks: gr.Blocks, path: str = "/") -> Any:
    return gr.mount_gradio_app(
        app,
        blocks,
        path=path,
        footer_links=[],
        run_history=False,
        show_error=False,
        theme=theme(),
        css=(STATIC / "chat.css").read_text(encoding="utf-8"),
        js=(STATIC / "chat.js").read_text(encoding="utf-8"),
        mcp_server=False,
        ssr_mode=False,
    )
