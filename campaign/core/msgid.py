"""``N_``: mark a string for the catalogues without translating it.

Pure modules (``rules.py``) keep their labels in English and import nothing of
Flask; ``pybabel extract`` finds the marked strings, and the page translates
them when it shows them (``core.i18n.translated`` or ``_(label)`` in a
template). docs/i18n.md.
"""


def N_(text: str) -> str:
    return text
