"""Reports in: identifiers and amounts read out of free text, and the scam type.

``extract`` turns a report's text into the phones, cards, accounts, URLs and sums the
centre acts on; ``classify`` names the kind of scam so the report reaches the team that
handles it. Both are pure functions of the text; the CLI and the API are thin edges.
"""

from fanzha.intake.extract import Extraction, extract

__all__ = ["Extraction", "extract"]
