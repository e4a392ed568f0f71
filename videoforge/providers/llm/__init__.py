"""Language models that write slide decks and narration, split along their seams.

schema.py holds the JSON schemas the model answers in, prompts.py the messages that ask it,
answers.py reads and checks what it answers (tolerantly: code fences, prose around the
object, a bare list), and openai_text.py is the backend for any OpenAI-compatible service.
An invalid answer is asked again with the problem named. Animations are declarative specs
held to the same rules as an outline's (core.animation_spec); nothing the model writes is
ever executed.
"""
