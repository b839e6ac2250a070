"""The Gradio chat page: conversation on the left, the sources of every answer on the right.

The per-session state is plain data (lists, dicts, strings), never engine objects:
`messages` (the Chatbot value), `turns` ([question, answer text] pairs for follow-ups), `sections`
(the sources panel's HTML per answer, closed), `latest` (the newest one, open), and `records`
(message index -> question/answer/citations, for thumbs up/down).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from ..answering.messages import spoken
from ..assistant import Assistant, clean_question
from ..errors import EmptyIndex, InvalidQuestion, RagError
from ..feedback import Feedback, FeedbackStore
from ..settings import Settings
from ..types import Answer
from . import render

log = logging.getLogger(__name__)

TITLE = "Kazakhstan AI Strategy — Q&A"
EXAMPLES = (
    "When was the AI law signed?",
    "What is Alem.ai?",
    "Was sagte Tokayev am 11. August 2025 über KI?",
    "What does the AI law require?",
)
MAX_PANEL_TURNS = 12  # older answers' sources drop out of the panel (the chat keeps their text)

CSS = """
:root { --kz-sky: #00a3c4; --kz-sky-soft: #e6f7fb; --kz-gold: #f5b700; --kz-ink: #1f2937; --kz-muted: #6b7280; }
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
footer { display: none !important; }
#kz-header { padding: 18px 4px 6px 4px; }
#kz-header h1 { margin: 0; font-size: 1.55rem; font-weight: 700; color: var(--kz-ink); letter-spacing: -0.01em; }
#kz-header h1 .kz-sun { color: var(--kz-gold); }
#kz-header p { margin: 4px 0 0 0; color: var(--kz-muted); font-size: 0.95rem; }
#kz-header .kz-stats { display: inline-block; margin-left: 6px; padding: 1px 8px; border-radius: 999px;
  background: var(--kz-sky-soft); color: #036b80; font-size: 0.8rem; }
#kz-chat { border-radius: 14px !important; }
#kz-chat a.kz-cite { display: inline-block; padding: 0 5px; margin: 0 1px; border-radius: 6px; background: var(--kz-sky-soft);
  color: #036b80 !important; font-weight: 600; font-size: 0.85em; text-decoration: none !important; cursor: pointer;
  border: 1px solid #b9e6f0; line-height: 1.35; }
#kz-chat a.kz-cite:hover { background: var(--kz-sky); color: #fff !important; }
#kz-chat a.kz-related-link { font-weight: 500; }
.kz-declined-badge { display: inline-block; padding: 2px 10px; border-radius: 999px; background: #fff4d6; color: #8a5a00;
  font-weight: 600; font-size: 0.85em; border: 1px solid #f3d58a; }
#kz-ask-row { align-items: stretch; gap: 8px; margin-top: 4px; }
#kz-ask-row textarea { font-size: 1rem !important; padding: 12px 14px !important; }
#kz-question { border-radius: 12px !important; }
#kz-send { border-radius: 12px !important; font-weight: 600 !important; }
#kz-examples { gap: 6px !important; flex-wrap: wrap !important; align-items: center; }
#kz-examples > * { flex: 0 1 auto !important; min-width: 0 !important; width: auto !important; }
#kz-examples button { font-weight: 400 !important; font-size: 0.84rem !important; border-radius: 999px !important;
  padding: 4px 12px !important; }
#kz-examples .kz-try-wrap { flex: none !important; }
.kz-try { color: var(--kz-muted); font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em; margin-right: 2px; }
#kz-clear { border-radius: 12px !important; white-space: nowrap !important; }
#kz-sources-col { position: sticky; top: 8px; align-self: flex-start; }
#kz-sources-title { margin: 2px 0 6px 2px; font-weight: 700; color: var(--kz-ink); font-size: 1.05rem; }
#kz-sources { max-height: calc(100vh - 150px) !important; overflow-y: auto !important; padding-right: 4px; scroll-behavior: smooth; }
.kz-panel { display: flex; flex-direction: column; gap: 10px; font-size: 0.93rem; color: var(--kz-ink); }
.kz-empty { padding: 18px; border: 1px dashed #cbd5e1; border-radius: 12px; color: var(--kz-muted); background: #fafcfd; }
.kz-empty p { margin: 0 0 8px 0; }
.kz-cite-demo { padding: 0 5px; border-radius: 6px; background: var(--kz-sky-soft); color: #036b80; font-weight: 600; }
details.kz-turn { border: 1px solid #e5e7eb; border-radius: 12px; background: #fff; overflow: hidden; }
details.kz-turn > summary { display: flex; justify-content: space-between; gap: 10px; align-items: baseline; cursor: pointer;
  padding: 10px 14px; background: #f8fafc; list-style: none; }
details.kz-turn > summary::-webkit-details-marker { display: none; }
details.kz-turn[open] > summary { border-bottom: 1px solid #e5e7eb; }
.kz-q { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.kz-q::before { content: "Q "; color: var(--kz-sky); font-weight: 700; }
.kz-count { flex: none; color: var(--kz-muted); font-size: 0.82rem; }
.kz-turn-body { padding: 10px 12px; display: flex; flex-direction: column; gap: 8px; }
details.kz-source { border: 1px solid #e8eef3; border-left: 4px solid var(--kz-sky); border-radius: 10px; background: #fff;
  scroll-margin: 80px; transition: box-shadow 0.3s; }
details.kz-source.kz-related { border-left-color: #cbd5e1; }
details.kz-source > summary { display: flex; gap: 8px; align-items: baseline; padding: 8px 10px; cursor: pointer; list-style: none; }
details.kz-source > summary::-webkit-details-marker { display: none; }
.kz-n { flex: none; min-width: 22px; height: 22px; line-height: 22px; text-align: center; border-radius: 6px; background: var(--kz-sky);
  color: #fff; font-weight: 700; font-size: 0.8rem; }
.kz-n-related { background: #94a3b8; }
.kz-title { font-weight: 600; flex: 1; }
.kz-date { flex: none; color: var(--kz-muted); font-size: 0.8rem; }
.kz-body { padding: 0 12px 10px 12px; }
.kz-body > * { margin-top: 0 !important; }
.kz-links ul li { margin: 0 !important; }
blockquote.kz-passage { margin: 0 0 8px 0 !important; padding: 8px 12px !important; border-left: 3px solid #e5e7eb; background: #fbfcfd; color: #374151;
  white-space: pre-line; line-height: 1.55; font-size: 0.9rem; border-radius: 0 8px 8px 0; }
mark.kz-mark { background: #ffe58a; color: #1f2937; padding: 1px 2px; border-radius: 3px; box-shadow: 0 0 0 1px #f5c84c inset; }
.kz-links { font-size: 0.85rem; }
.kz-links .kz-label { color: var(--kz-muted); font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.04em; }
.kz-links ul { margin: 2px 0 4px 0; padding-left: 18px; }
.kz-links a { color: #0369a1; }
.kz-where { color: var(--kz-muted); font-size: 0.78rem; }
.kz-where code { font-size: 0.78rem; background: #f1f5f9; padding: 0 4px; border-radius: 4px; }
.kz-muted { color: var(--kz-muted); }
.kz-note { color: var(--kz-muted); font-size: 0.82rem; font-style: italic; }
.kz-declined { padding: 8px 12px; border-radius: 8px; background: #fff8e6; border: 1px solid #f3d58a; color: #6b4a00; }
.kz-related-head { margin: 6px 0 0 0; font-size: 0.85rem; color: var(--kz-muted); text-transform: uppercase; letter-spacing: 0.04em; }
.kz-flash { box-shadow: 0 0 0 3px rgba(0, 163, 196, 0.45); }
#kz-footer { color: var(--kz-muted); font-size: 0.8rem; text-align: center; padding: 10px 0 4px 0; }
#kz-footer a { color: #0369a1; }
@media (max-width: 900px) {
  #kz-sources-col { position: static !important; }
  #kz-sources { max-height: none !important; overflow-y: visible !important; }
}
@media (max-width: 600px) {
  details.kz-source > summary { flex-wrap: wrap; }
  details.kz-source > summary .kz-date { flex-basis: 100%; padding-left: 30px; }
  #kz-header h1 { font-size: 1.25rem; }
}
"""

# Runs once when the page loads: a click on a `[n]` marker (or a "related passages" link) opens and
# scrolls to its source in the panel instead of navigating.
JS = """
() => {
  if (window.__kzCitations) { return; }
  window.__kzCitations = true;
  const reveal = (id) => {
    const el = document.getElementById(id);
    if (!el) { return false; }
    for (let p = el; p; p = p.parentElement) { if (p.tagName === "DETAILS") { p.open = true; } }
    const box = el.closest("#kz-sources");
    if (box && getComputedStyle(box).overflowY === "auto" && box.scrollHeight > box.clientHeight + 1) {
      // Wide layout: scroll the sources panel itself, and the page only as far as needed to see the panel.
      const top = el.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop - 8;
      box.scrollTo({ top: top, behavior: "smooth" });
      const r = box.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 120) { box.scrollIntoView({ behavior: "smooth", block: "start" }); }
    } else {
      el.scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
    el.classList.remove("kz-flash"); void el.offsetWidth; el.classList.add("kz-flash");
    setTimeout(() => el.classList.remove("kz-flash"), 1600);
    return true;
  };
  document.addEventListener("click", (event) => {
    const link = event.target && event.target.closest ? event.target.closest("a") : null;
    if (!link) { return; }
    const href = link.getAttribute("href") || "";
    const hash = href.indexOf("#") >= 0 ? href.slice(href.indexOf("#") + 1) : "";
    if (!/^(cite|turn)-\\d+(-\\d+)?$/.test(hash)) { return; }
    event.preventDefault();
    event.stopPropagation();
    reveal(hash);
  }, true);
}
"""


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


def build_chat(assistant: Assistant, settings: Settings, feedback: FeedbackStore) -> gr.Blocks:
    """The chat page (mount it with `mount_chat`, which adds its CSS, script and theme)."""
    handlers = ChatHandlers(assistant, settings, feedback)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        state = gr.State(new_state())
        gr.HTML(_header(assistant), js_on_load=None)
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
            '<div id="kz-footer">Extractive answers: every sentence is quoted from a document and cited. '
            'REST API: <a href="/docs" target="_blank">/docs</a></div>',
            js_on_load=None,
        )

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
        css=CSS,
        js=JS,
        mcp_server=False,
        ssr_mode=False,
    )
