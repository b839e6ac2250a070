"""The web front end: REST API (`api`), OpenAI-compatible chat API (`openai_api`), offline API docs (`docs`),
Gradio chat (`chat`), HTML rendering (`render`). `rag.server.create_app` mounts them with the other front ends."""
