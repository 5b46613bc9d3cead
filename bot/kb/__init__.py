"""Knowledge base: help pages indexed in SQLite FTS5 and searched with BM25, per page.

Public entry points are re-exported here; nothing runs at import time.
"""

from .knowledge_base import KnowledgeBase
from .loader import SourceError
from .settings import EmbeddingSettings, KBSettings
from .types import Hit, IndexReport, SearchResult, SourceInfo

__all__ = [
    "EmbeddingSettings",
    "Hit",
    "IndexReport",
    "KBSettings",
    "KnowledgeBase",
    "SearchResult",
    "SourceError",
    "SourceInfo",
]
