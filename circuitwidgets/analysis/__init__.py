"""Pure computations on a model's activations and weights: no widget, notebook or plotting
imports here. Each module answers one question and returns a small dataclass.

* :mod:`.next_token` — the probability the model gave each actual next token of a text.
"""
