"""Builds the running parts from settings, in one place, and closes them again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from bot.analytics.learning import Learning
from bot.conversation.manager import ConversationManager
from bot.conversation.outbox import Outbox
from bot.conversation.spending import unpriced_warning
from bot.handoff.escalation import Escalations
from bot.handoff.staff import Handoff
from bot.kb import KnowledgeBase
from bot.kb.embeddings import build_embedder
from bot.kb.shared import SharedPages
from bot.kb.sync import sync_logged
from bot.llm.client import LLMClient
from bot.llm.moderation import Moderator
from bot.llm.sdk import openai_client
from bot.llm.tokens import load_counter
from bot.ops.metrics import Metrics
from bot.pii import Redactor, Scrub, keep
from bot.service import SupportService
from bot.settings import LoadedConfig
from bot.storage.sqlite import SQLiteStore
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.store import ConversationStore

if TYPE_CHECKING:
    from bot.storage.postgres import PostgresStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class App:
    config: LoadedConfig
    store: ConversationStore
    llm: LLMClient | None
    manager: ConversationManager
    escalations: Escalations
    handoff: Handoff
    kb: KnowledgeBase | None
    outbox: Outbox
    service: SupportService  # what adapters are given: the core's one API for them
    metrics: Metrics  # this app's Prometheus metrics, on a registry of its own
    learning: Learning  # the learning loop: help entries from staff answers


def build_llm(config: LoadedConfig, metrics: Metrics | None = None) -> LLMClient | None:
    """The LLM client, or None when OPENAI_API_KEY is not set."""
    secrets, llm = config.secrets, config.settings.llm
    if secrets.openai_api_key is None:
        return None
    client = openai_client(
        api_key=secrets.openai_api_key.get_secret_value(),
        base_url=secrets.openai_base_url or None,
        timeout_s=llm.timeout_s,
        max_retries=llm.max_retries,
    )
    return LLMClient(client, llm, metrics)


def build_store(config: LoadedConfig) -> SQLiteStore | PostgresStore:
    """Postgres when database.url is set (instances may share it), else the SQLite file at database.path."""
    database = config.settings.database
    if database.postgres:
        from bot.storage.postgres import PostgresStore  # asyncpg (~3 MB) only on Postgres

        return PostgresStore(database.url, database.pool_size, database.lock_pool_size)
    return SQLiteStore(database.path)


def build_moderator(config: LoadedConfig, llm: LLMClient | None) -> Moderator | None:
    """The moderation check on the chat model's own client (same server, key and connection pool),
    when moderation.enabled and a model is configured."""
    settings = config.settings.moderation
    if not settings.enabled:
        return None
    if llm is None:
        log.warning("moderation.enabled, but no LLM is configured (OPENAI_API_KEY): nothing to moderate")
        return None
    return Moderator(llm.openai, settings)


def learned_folder(config: LoadedConfig) -> Path:
    """Where approved learned entries are written as pages for the `learned` source: beside the
    database, named after it."""
    db = config.settings.database.path
    return db.parent / f"{db.stem}-learned"


@asynccontextmanager
async def open_store(config: LoadedConfig) -> AsyncIterator[SQLiteStore | PostgresStore]:
    store = build_store(config)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def shared_pages(store: ConversationStore) -> SharedPages | None:
    """The help pages instances on one Postgres database share (`bot.kb.shared`): `kb add` publishes
    to it and every instance's index follows it. None with SQLite alone: the index is all there is."""
    if isinstance(store, SQLiteStore):
        return None
    from bot.storage.postgres import PostgresStore
    from bot.storage.postgres.kb_pages import PostgresSharedPages

    assert isinstance(store, PostgresStore), type(store)
    return PostgresSharedPages(store)


@asynccontextmanager
async def knowledge_base(
    config: LoadedConfig, store: ConversationStore, kb_db: SQLiteConnection
) -> AsyncIterator[KnowledgeBase | None]:
    """The knowledge base over `kb_db`, set up, its pages shared through `store` where that is
    Postgres (None when kb.enabled is off); its embeddings client is closed on exit."""
    settings = config.settings.kb
    if not settings.enabled:
        yield None
        return
    embedder = build_embedder(settings.embeddings)
    try:
        kb = KnowledgeBase(
            kb_db.db, settings, embedder=embedder, write_lock=kb_db.write_lock, shared=shared_pages(store)
        )
        await kb.setup()
        yield kb
    finally:
        if embedder is not None:
            await embedder.close()


@asynccontextmanager
async def kb_database(config: LoadedConfig, store: ConversationStore) -> AsyncIterator[SQLiteConnection]:
    """Where the knowledge base's index lives: the SQLite store's own file, or beside a Postgres
    store this instance's own SQLite file at database.path (see README, "Knowledge base")."""
    if isinstance(store, SQLiteStore):
        yield store
        return
    local = SQLiteConnection(config.settings.database.path, schema=None)
    await local.open()
    try:
        yield local
    finally:
        await local.close()


@asynccontextmanager
async def running_app(config: LoadedConfig) -> AsyncIterator[App]:
    """Open the store, the LLM client and the token counter; close them on exit."""
    settings = config.settings
    metrics = Metrics(CollectorRegistry())  # never prometheus-client's global REGISTRY
    async with (
        open_store(config) as store,
        kb_database(config, store) as kb_db,
        knowledge_base(config, store, kb_db) as kb,
    ):
        counter = await load_counter(settings.llm.model, settings.llm.encoding)
        llm = build_llm(config, metrics)
        warning = unpriced_warning(settings) if llm is not None else None
        if warning is not None:
            log.warning("%s", warning)
        privacy = settings.privacy
        stored: Scrub = Redactor(privacy.phone_region) if privacy.applies_to("database") else keep
        handoff = Handoff(store, settings.escalation, llm, counter=counter, stored_text=stored)
        escalations = Escalations(store, settings.escalation, handoff, metrics)
        if kb is not None:
            if kb.shared:  # what other instances published, before the sample would be indexed
                await sync_logged(kb, settings.kb.sync_s)
            report = await kb.index_sample_if_empty(config.base_dir)
            if report is not None:
                log.info("indexed the sample knowledge base: %s pages", report.added)
        learning = Learning(store, kb, llm, learned_folder(config))
        handoff.learning = learning
        manager = ConversationManager(
            store=store,
            llm=llm,
            counter=counter,
            settings=settings,
            system_prompt=config.system_prompt,
            escalations=escalations,
            handoff=handoff,
            kb=kb,
            moderator=build_moderator(config, llm),
            metrics=metrics,
        )
        outbox = Outbox(store, handoff.port, turn=manager.turn)
        service = SupportService(
            store=store,
            manager=manager,
            outbox=outbox,
            escalations=escalations,
            handoff=handoff,
            settings=settings.escalation,
            privacy=settings.privacy,
            recover_minutes=settings.bot.recover_minutes,
            metrics=metrics,
            learning=learning,
        )
        try:
            yield App(
                config=config,
                store=store,
                llm=llm,
                manager=manager,
                escalations=escalations,
                handoff=handoff,
                kb=kb,
                outbox=outbox,
                service=service,
                metrics=metrics,
                learning=learning,
            )
        finally:
            await handoff.close()
            if llm is not None:
                await llm.close()
